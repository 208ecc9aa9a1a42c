"""Code that runs inside a program's own process (or the warm interpreter it is forked from).

Nothing here imports labreport beyond :mod:`labreport.protocol` and :mod:`labreport.record`,
so a program never pays for the renderer, and the boundary between labreport and the code it
runs is a folder: everything on the far side lives here.
"""
