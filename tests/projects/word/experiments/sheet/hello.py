greeting = "hello"
print(greeting)
