"""From parsed notes or plain datasets to curated chat examples."""
