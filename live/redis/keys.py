"""Every Redis key name, in one place.

Keys of one show share the hash tag ``{show}`` so that one Lua script may touch all of them on a
Redis Cluster. A show with ``partitions = N`` also has partitions 1..N-1, tagged
``{show~p~k}`` (``~`` is not allowed in a show id; ``k`` puts the partition's slot where
:func:`~live.domain.show.partition_tag` wants it): each holds the vote keys of its devices
(category copy, vote ids, uses, windows, tallies, refusal marks, voids, its own ledger chain and
version), so a show's votes run on up to N Redis cores. Everything else lives in partition 0,
``{show}``.
"""

from __future__ import annotations

from live.domain.show import partition_tag


class ShowKeys:
    __slots__ = ("base",)

    def __init__(self, prefix: str, show: str, part: int = 0, partitions: int = 1) -> None:
        self.base = f"{prefix}:{{{partition_tag(show, part, partitions)}}}"

    @property
    def events(self) -> str:
        """Pub/sub channel on which a process announces that the show changed (sharded pub/sub
        on a Redis Cluster: the channel lives in the show's slot)."""
        return f"{self.base}:events"

    @property
    def version(self) -> str:
        """Counter bumped by every change a viewer can see."""
        return f"{self.base}:version"

    @property
    def stage(self) -> str:
        """Hash: the fields of :class:`live.domain.stage.Stage` (``phase``, ``rev``, ...)."""
        return f"{self.base}:stage"

    @property
    def display(self) -> str:
        """Hash: ``overlay_category``, ``frozen`` (JSON tallies held for the overlay)."""
        return f"{self.base}:display"

    @property
    def revealed(self) -> str:
        """Set: categories whose hidden tallies the admin revealed to viewers."""
        return f"{self.base}:revealed"

    @property
    def contestants(self) -> str:
        """Hash: contestant -> JSON of the details edited before the show."""
        return f"{self.base}:contestants"

    @property
    def definition(self) -> str:
        """Hash: ``toml`` (the show file of a show set up in the browser) and ``rev`` (its
        revision); absent for a show served from a file. Replaced only while the show waits."""
        return f"{self.base}:definition"

    @property
    def photos(self) -> str:
        """Hash: ``contestant:revision`` -> base64 of the re-encoded WebP photo (every revision
        kept: a page or poster naming an older one still finds it)."""
        return f"{self.base}:photos"

    @property
    def ledger(self) -> str:
        """Stream: the append-only ledger; tallies are a projection of it."""
        return f"{self.base}:ledger"

    @property
    def secrets(self) -> str:
        """Hash: ``pseudonym`` -> hex key of the keyed hash of personal values."""
        return f"{self.base}:secrets"

    @property
    def personal(self) -> str:
        """Hash: keyed pseudonym -> the raw device id, address or user agent it stands for (what
        fraud signals and moderators read). The only place raw values are kept: it expires the
        show's ``retention`` after its last write, and ``live purge`` deletes it."""
        return f"{self.base}:pii"

    @property
    def vote_ids(self) -> str:
        """Hash: accepted ``vote_id`` -> fingerprint (device pseudonym, category, contestant)."""
        return f"{self.base}:vids"

    @property
    def likes(self) -> str:
        """Hash: ``taps`` received and ``counted``."""
        return f"{self.base}:likes"

    def category(self, cat: str) -> str:
        """Hash: ``open``, ``only``, ``until``, ``started``, ``opened`` (when its window last
        opened, ms); rules ``cap``, ``per``, ``hide``."""
        return f"{self.base}:cat:{cat}"

    def source_tally(self, platform: str, cat: str) -> str:
        """Sorted set: contestant -> chat votes counted from one platform (``ingest.lua``)."""
        return f"{self.base}:srctally:{platform}:{cat}"

    def source_used(self, cat: str) -> str:
        """Hash: ``platform`` \\n user pseudonym -> chat votes used in the category (and with
        ``\\n`` contestant -> votes for that contestant)."""
        return f"{self.base}:srcused:{cat}"

    @property
    def sources(self) -> str:
        """Hash: ``<platform>:votes``, ``:likes``, ``:gifts``, ``:comments``, ``:duplicates``,
        ``:refused``: what each platform's events added (``ingest.lua``)."""
        return f"{self.base}:sources"

    @property
    def seen(self) -> str:
        """Prefix of the sets of platform event ids seen on one day of Redis's clock (the day
        number is appended; each kept two days, so a repeat within 24 h is always caught)."""
        return f"{self.base}:seen:"

    def tally(self, cat: str) -> str:
        """Sorted set: contestant -> accepted votes."""
        return f"{self.base}:tally:{cat}"

    def used(self, cat: str) -> str:
        """Hash: device pseudonym -> votes used in the category (and with ``\\n`` contestant ->
        votes for that contestant)."""
        return f"{self.base}:used:{cat}"

    @property
    def refusals(self) -> str:
        """Hash: device pseudonym -> ``slot:n``, its last refusal window and the refusals
        answered in it without a ledger entry (``vote.lua``). Only ever grows by one field per
        device."""
        return f"{self.base}:refusals"

    def window_device(self, device: str) -> str:
        """Sorted set: a device's recent votes (named by its pseudonym, as the two below)."""
        return f"{self.base}:win:dev:{device}"

    def window_ip(self, ip: str) -> str:
        return f"{self.base}:win:ip:{ip}"

    def window_subnet(self, subnet: str) -> str:
        return f"{self.base}:win:net:{subnet}"

    def sheets(self, cat: str) -> str:
        """Hash: ``judge|contestant`` -> JSON sheet (marks, state, rev, save_id, at, by)."""
        return f"{self.base}:sheets:{cat}"

    def approvals(self, cat: str) -> str:
        """Hash: ``judge|contestant`` -> ``1`` (approve) or ``0`` (reject)."""
        return f"{self.base}:approvals:{cat}"

    def publications(self, cat: str) -> str:
        """List: every published result of the category, version n at index n - 1."""
        return f"{self.base}:pub:{cat}"

    @property
    def published(self) -> str:
        """Hash: category -> latest published version (pushed to viewers and the overlay)."""
        return f"{self.base}:published"

    @property
    def voided(self) -> str:
        """Hash: voided ``vote_id`` -> JSON (by, why, t, ref, cat, c)."""
        return f"{self.base}:voided"

    @property
    def void_counts(self) -> str:
        """Hash: category -> accepted votes currently voided (public)."""
        return f"{self.base}:voidcount"

    @property
    def moderation_log(self) -> str:
        """List: one JSON per void or restore action (who, why, how many), oldest first."""
        return f"{self.base}:modlog"

    @property
    def flags(self) -> str:
        """Hash: cluster id -> JSON of the fraud cluster (rule, key, reason, votes)."""
        return f"{self.base}:flags"

    @property
    def heads(self) -> str:
        """Hash: category -> JSON ``{n, h, id, t}``, the ledger's head when its voting closed."""
        return f"{self.base}:heads"

    def flag_votes(self, cluster: str) -> str:
        """List: the flagged vote ids of one fraud cluster, appended as they are flagged (a
        takeover of the flagger may append some again; readers drop repeats)."""
        return f"{self.base}:flagvids:{cluster}"

    def lease(self, name: str) -> str:
        """String: which process holds a background job (e.g. the fraud consumer)."""
        return f"{self.base}:lease:{name}"

    @property
    def partitions(self) -> str:
        """String: the show's ``partitions`` when its state was first seeded (fixed for good:
        a device must not move to another partition during a show)."""
        return f"{self.base}:partitions"

    @property
    def mirrored(self) -> str:
        """String (partitions 1..N-1): partition 0's version when its categories were last
        copied here (``mirror.lua`` never lets an older copy overwrite a newer one)."""
        return f"{self.base}:mirrored"

    @property
    def like_budget(self) -> str:
        """Prefix of the hashes device -> likes counted in one second of Redis's clock (the
        second is appended by ``likes.lua``)."""
        return f"{self.base}:likebudget:"

    @property
    def comments(self) -> str:
        """Hash: comment id -> JSON of :class:`live.domain.comments.Comment`."""
        return f"{self.base}:cmt"

    def comment_state(self, state: str) -> str:
        """Sorted set: the ids of the comments in ``state`` (pending, approved, rejected), by
        when they got there (ms)."""
        return f"{self.base}:cmt:{state}"

    @property
    def comment_feed(self) -> str:
        """Sorted set: approved comments as viewers get them (exact JSON members), by when they
        were approved; snapshots carry the newest."""
        return f"{self.base}:cmt:feed"

    def comment_device(self, device: str) -> str:
        """Sorted set: the ids of one device's comments, by when they were posted (a ban
        rejects the device's pending ones without reading the whole queue)."""
        return f"{self.base}:cmt:dev:{device}"

    @property
    def comment_bans(self) -> str:
        """Set: pseudonyms of the devices whose comments are refused for the rest of the show."""
        return f"{self.base}:cmt:banned"

    def comment_window(self, device: str, window: int) -> str:
        """String: comments a device posted in one minute of the service's clock."""
        return f"{self.base}:win:cmt:{device}:{window}"

    def comment_address_window(self, address: str, window: int) -> str:
        """String: comments from one client address (its pseudonym) in one minute."""
        return f"{self.base}:win:cmtip:{address}:{window}"

    def comment_subnet_window(self, subnet: str, window: int) -> str:
        """String: comments from one /24 or /64 (its pseudonym) in one minute."""
        return f"{self.base}:win:cmtnet:{subnet}:{window}"

    def comment_repeat(self, device: str, text: str) -> str:
        """String: until when (ms) the same text from this device is dropped."""
        return f"{self.base}:win:cmtrep:{device}:{text}"

    def words(self, kind: str) -> str:
        """Set: words admins listed (``add``) or unlisted (``remove``), phrases they allowed
        (``allow``) or stopped allowing (``disallow``), over the show file's lists."""
        return f"{self.base}:words:{kind}"

    @property
    def words_rev(self) -> str:
        """Hash: ``rev``, a new random token at every word-list edit (a process rebuilds its
        filter when the revision a comment was checked with is no longer the current one)."""
        return f"{self.base}:words:rev"

    @property
    def danmaku(self) -> str:
        """Hash: the overlay's danmaku layer: ``enabled``, ``density``, ``pinned`` (JSON)."""
        return f"{self.base}:danmaku"


def registry_key(prefix: str) -> str:
    """Hash: the shows set up in the browser, id -> when created (ms). Every process serves
    every show listed here, from its ``{show}:definition``. Its own hash tag: one slot, read
    by every process each second."""
    return f"{prefix}:{{~registry}}:shows"


def organisers_key(prefix: str) -> str:
    """Hash: ``show|staff`` -> JSON ``{"quota", "used"}``: the staff members the operator made
    organisers (``live staff organiser``), who may create shows in the browser, and how many
    they have created. A server-level grant: no show's admin can give it."""
    return f"{prefix}:{{~registry}}:organisers"
