"""`tuxtcp doctor`: the listen-queue diagnosis of a namespace (observe/doctor.py) and its
what-if (whatif.py: the simulator run on the observed rates, before and after a change)."""
