import handout_test_module_that_is_not_installed  # noqa: F401  (a run fails here)

print("volume", 4 / 3 * 3.14159 * 8)  # WS-POST-SOLUTION
