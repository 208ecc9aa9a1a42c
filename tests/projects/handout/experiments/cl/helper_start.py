# CL-HELPER-START: print the two words
