# Copy to instance/config.py and uncomment what you need.
# Order: defaults (reservations/config.py) < this file < RESERVATIONS_* environment variables.
# This folder is not committed (see .gitignore), so secrets may live here.

# Database (default: SQLite in instance/reservations.sqlite3)
# DATABASE_URL = "postgresql+psycopg://reservations:SECRET@127.0.0.1:5432/reservations"

# Signing key for sessions and CSRF tokens. Default: random, generated into instance/secret_key.
# SECRET_KEY = "a long random string"

# Public address, used in e-mails and calendar feeds. https:// also turns on secure cookies.
# BASE_URL = "https://reservations.example.jp"

# Behind nginx or another reverse proxy (trusts one hop of X-Forwarded-For/-Proto/-Host)
# PROXY_FIX = True

# Outgoing mail. Without SMTP_HOST mails are printed to the console.
# SMTP_HOST = "smtp.example.jp"
# SMTP_PORT = 587
# SMTP_USERNAME = "reservations"
# SMTP_PASSWORD = "..."
# SMTP_STARTTLS = True
# MAIL_FROM = "なやプラザ施設予約 <no-reply@naya-plaza.example.jp>"

# Rate limits: shared storage when several worker processes run
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"
