"""Open tracking (雷达): per-recipient tracked links to materials, the H5 page that records opens, reading time,
depth and forwards, the reactions to an open, and the statistics."""
