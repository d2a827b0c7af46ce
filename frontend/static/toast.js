// A short message at the bottom of a page (#toast, an aria-live region), gone after ``ms``.
export function toast(text, ms = 2500) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => node.classList.remove("show"), ms);
}
