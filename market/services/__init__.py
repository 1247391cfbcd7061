"""Every write of the market goes through these functions (STYLE.md, Services and selectors)."""
