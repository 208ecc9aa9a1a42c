from labreport.record import record

print("hello")
record("greeting", "hello")
