"""HTML views of coupons, by audience."""
