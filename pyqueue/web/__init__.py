"""The waiting-room page: server-rendered HTML that works without JavaScript, a small script
that takes over the polling, a stylesheet, and the German and English texts.

The HTML is built here (:mod:`pyqueue.web.views`, :mod:`pyqueue.web.booking_views`); the
routes that serve it live in :mod:`pyqueue.server.page` and :mod:`pyqueue.server.page_booking`.
``static/`` and ``texts/`` are served and read as they are: there is no build step.
"""
