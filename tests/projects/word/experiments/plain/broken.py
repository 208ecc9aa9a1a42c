print("about to fail")
raise ValueError("no such item")
# a third line, not shown
