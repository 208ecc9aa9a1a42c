"""``python -m labreport``."""

from labreport.cli import main

main()
