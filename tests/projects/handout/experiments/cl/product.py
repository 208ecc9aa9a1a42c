product = 1234 * 5
print(f"PRODUCT={product}")
