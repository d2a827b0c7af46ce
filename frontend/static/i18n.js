// Every viewer string, in zh-CN (the default) and en. A test checks both have the same keys.
export const STRINGS = {
  "zh-CN": {
    on_stage: "正在路演",
    running_order: "路演顺序",
    vote: "投票",
    voted: "已投",
    open: "投票中",
    closed: "未开放",
    hidden: "结果揭晓前隐藏票数",
    likes: "点赞",
    taps: "次点击",
    switch: "EN",
    accepted: "投票成功",
    duplicate: "您已投过票",
    limited: "操作太频繁，请稍后再试",
    closed_vote: "该奖项投票未开放",
    error: "投票失败，请重试",
    connecting: "正在连接…",
    offline: "连接中断，正在重连…",
    waiting: "等待开始",
  },
  en: {
    on_stage: "On stage",
    running_order: "Running order",
    vote: "Vote",
    voted: "Voted",
    open: "open",
    closed: "closed",
    hidden: "Tallies hidden until the reveal",
    likes: "likes",
    taps: "taps",
    switch: "中文",
    accepted: "Vote counted",
    duplicate: "You have already voted",
    limited: "Too fast, please try again shortly",
    closed_vote: "Voting is not open for this award",
    error: "Vote failed, please retry",
    connecting: "Connecting…",
    offline: "Connection lost, reconnecting…",
    waiting: "Waiting to start",
  },
};

export function pickLang() {
  const url = new URL(location.href).searchParams.get("lang");
  const saved = localStorage.getItem("live.lang");
  const lang = url || saved || "zh-CN";
  return lang in STRINGS ? lang : "zh-CN";
}
