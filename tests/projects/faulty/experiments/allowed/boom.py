print("about to fail")
raise ValueError("the data file is empty")
