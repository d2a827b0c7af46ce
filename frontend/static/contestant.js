// The contestant page: vote buttons per category, votes left from the server, share a link.
import { toast } from "./toast.js";
import { STRINGS } from "./i18n.js";
import { castVote, leftText, myVotes } from "./vote.js";

const main = document.getElementById("contestant");
const showId = main.dataset.show;
const contestant = main.dataset.contestant;
const t = STRINGS[main.dataset.lang in STRINGS ? main.dataset.lang : "zh-CN"];
let mine = {};

function paint() {
  for (const row of document.querySelectorAll(".vote-list .row")) {
    const use = mine[row.dataset.category];
    const button = row.querySelector("button.vote");
    if (!use) continue;
    row.querySelector("[data-left]").textContent = leftText(t, use.left);
    if (use.left === 0) {
      button.disabled = true;
      button.textContent = t.voted;
      button.classList.add("done");
    }
  }
}

for (const button of document.querySelectorAll("button.vote")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    const answer = await castVote(showId, button.dataset.category, contestant);
    const status = answer ? answer.status : "error";
    toast(status === "closed" ? t.closed_vote : t[status] || t.error);
    mine = await myVotes(showId);
    button.disabled = false;
    paint();
  });
}

document.getElementById("share").addEventListener("click", async (event) => {
  const url = event.currentTarget.dataset.url;
  try {
    if (navigator.share) await navigator.share({ url });
    else await navigator.clipboard.writeText(url);
    toast(t.copied);
  } catch (err) {
    toast(url);
  }
});

mine = await myVotes(showId);
paint();
