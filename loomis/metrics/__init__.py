"""Process metrics (Perceptual Distance Profile, Inverse Painting's metrics, distances)."""
