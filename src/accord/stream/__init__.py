"""The live stream of a collection: its additions and removals in tick order, through the sharing policy."""
