"""iCalendar feeds: public room/facility feeds, private group/personal feeds, one-booking files.

``reservations.feeds.ical`` builds the bytes (pure); ``reservations.services.feeds``
loads bookings and manages feed tokens; ``reservations.web.feeds`` serves them.
"""

from .ical import FeedInfo, booking_ics, booking_invitation, build_feed, event_uid, ical_status

__all__ = ["FeedInfo", "booking_ics", "booking_invitation", "build_feed", "event_uid", "ical_status"]
