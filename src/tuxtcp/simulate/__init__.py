"""`tuxtcp simulate`: the capacity and incident simulator."""
