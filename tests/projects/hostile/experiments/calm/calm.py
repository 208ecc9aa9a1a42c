from labreport.record import record

print("all good")
record("answer", 42)
