"""DRF views of coupons, by audience."""
