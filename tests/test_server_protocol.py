"""The slim stand-ins the websocket protocol uses for uvicorn's per-socket queue and event
keep their semantics: FIFO, a reader that waits for the next item, waiters woken on set."""

from __future__ import annotations

import asyncio

from live.web.server import Flag, Inbox


async def test_inbox_is_fifo_and_a_waiting_reader_gets_the_next_item() -> None:
    inbox = Inbox()
    assert inbox.empty()
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert [await inbox.get(), await inbox.get()] == ["a", "b"] and inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0.01)
    assert not reader.done()  # nothing to read: it waits
    inbox.put_nowait("c")
    assert await asyncio.wait_for(reader, 1) == "c"


async def test_flag_wait_returns_at_once_when_set_and_wakes_every_waiter_on_set() -> None:
    flag = Flag()
    assert flag.is_set()
    await asyncio.wait_for(flag.wait(), 1)
    flag.clear()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)  # cleared: they wait
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert flag.is_set()
