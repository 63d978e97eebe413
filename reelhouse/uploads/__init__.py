"""Direct uploads: signed upload URLs and the resumable protocol they speak (spec section 14)."""
