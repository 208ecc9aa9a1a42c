import handout_test_module_that_is_not_installed  # noqa: F401  (a run fails here)


def area(r):
    # handout: hide compute the area from r
    squared = r * r  # WS-SOLUTION-LINE
    return 3.14159 * squared
    # handout: end


area_value = area(2)
print(f"AREA={area_value}")
