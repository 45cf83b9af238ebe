"""Pure kernel of L2C: money, rounding, allocation, tax, errors, cursors and identifiers.

Nothing in this package imports Django, performs I/O or reads the clock.
"""
