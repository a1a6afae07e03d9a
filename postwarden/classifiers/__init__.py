"""Text models: hashed-feature linear spam and phishing heads (see README "## Models")."""
