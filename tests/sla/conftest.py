import datetime as dt

TOKYO = dt.timezone(dt.timedelta(hours=9))
