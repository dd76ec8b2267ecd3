"""Stranded capacity: free capacity no common shape fits."""

from pooling.objects import usage


def test_fits_fractional_and_whole():
    assert usage._fits(500, 40000, (500, 40000, 1))
    assert not usage._fits(400, 40000, (500, 1000, 1))
    assert not usage._fits(900, 100, (500, 1000, 1))
    assert usage._fits(1000, 80000, (1000, 80000, 2))
    assert not usage._fits(999, 80000, (1000, 80000, 2))
