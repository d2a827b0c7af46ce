// Casting a vote and asking how many are left: shared by the viewer and contestant pages.

export function newVoteId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// POST a vote; retries reuse the same vote_id, so a vote whose reply was lost, or that the
// server could not yet confirm (503 during a Redis failover: unavailable, not_replicated), is
// never counted twice: the retry is answered "accepted" once the first attempt is safe.
// Resolves to the server's answer, or null when it never answered.
export async function castVote(showId, category, contestant) {
  const body = JSON.stringify({ category, contestant, vote_id: newVoteId() });
  for (let i = 0; i < 8; i++) {
    let wait = 300 * (i + 1);
    try {
      const res = await fetch(`/api/shows/${encodeURIComponent(showId)}/votes`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body,
      });
      if (res.status === 503) {
        wait = 1000 * (Number(res.headers.get("Retry-After")) || 1);
      } else {
        return await res.json();
      }
    } catch (err) {
      // the network dropped: try again below, with the same vote_id
    }
    await new Promise((r) => setTimeout(r, wait));
  }
  return null;
}

// This device's votes per category from the server: {category: {cap, used, left}}.
export async function myVotes(showId) {
  try {
    const res = await fetch(`/api/shows/${encodeURIComponent(showId)}/me`, { credentials: "same-origin" });
    if (!res.ok) return {};
    return (await res.json()).categories || {};
  } catch (err) {
    return {};
  }
}

export function leftText(t, left) {
  return left > 0 ? t.votes_left.replace("{n}", left) : t.voted;
}
