"""Platform adapters: connect to a live room's event feed (bilibili open platform, Twitch
EventSub), turn what arrives into :class:`~live.domain.ingest.event.Event` batches and hand
them to :class:`~live.services.ingest.Ingest`. Douyin pushes to us instead (a webhook in
:mod:`live.web.http.ingest`). One process at a time holds a room (a lease in Redis), so
``--workers N`` does not connect N times."""
