// The live page: renders liveblog events from /events (Server-Sent Events).
// Every piece of source text goes into the DOM through textContent or dataset, never
// as HTML: a headline such as "<script>…" shows as those characters.
"use strict";

(() => {
  const ALERT_URGENCY = 0.7;
  const params = new URLSearchParams(window.location.search);
  const blogParam = params.get("blog") || "";
  const feed = document.getElementById("feed");
  const status = document.getElementById("status");
  const counts = document.getElementById("counts");
  const filterBlog = document.getElementById("filter-blog");
  const filterEntity = document.getElementById("filter-entity");
  const filterTopic = document.getElementById("filter-topic");
  const filterUrgency = document.getElementById("filter-urgency");
  const urgencyValue = document.getElementById("filter-urgency-value");

  const posts = new Map();     // blog|post id -> {card, event}
  const byEventId = new Map(); // event id (any revision) -> blog|post id
  const alerted = new Set();   // event ids named by an alert stream
  const stories = new Map();   // story key -> section element

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function addOption(select, value, label) {
    if ([...select.options].some((o) => o.value === value)) return;
    const option = el("option", null, label);
    option.value = value;
    const after = [...select.options].slice(1).find((o) => o.textContent.localeCompare(label) > 0);
    select.insertBefore(option, after || null);
  }

  function postKey(data) { return `${data.blog.id}|${data.post.id}`; }

  function isAlert(event) {
    return (event.data.urgency || 0) >= ALERT_URGENCY || alerted.has(event.id);
  }

  function fillCard(card, event) {
    const data = event.data;
    const post = data.post;
    card.replaceChildren();
    card.dataset.postId = post.id;
    card.dataset.blog = data.blog.id;
    card.dataset.revision = String(post.revision);
    card.dataset.eventId = event.id;
    card.classList.toggle("alert", isAlert(event));
    card.classList.toggle("retracted", event.type === "liveblog.post.retracted");

    const meta = el("div", "meta");
    const when = el("time", "time", new Date(post.published_at).toLocaleString());
    when.dateTime = post.published_at;
    meta.append(when, el("span", "blog", data.blog.title || data.blog.id));
    meta.append(el("span", "urgency", `urgency ${(data.urgency || 0).toFixed(2)}`));
    if (event.type === "liveblog.post.updated" || post.revision > 1) {
      const edited = el("span", "edited", `edited (r${post.revision})`);
      if (data.changes && data.changes.length) edited.title = `changed: ${data.changes.join(", ")}`;
      meta.append(edited);
    }
    if (event.type === "liveblog.post.retracted") meta.append(el("span", "badge retracted-badge", "retracted"));
    if (isAlert(event)) meta.append(el("span", "badge alert-badge", "alert"));
    if (data.repeat_of) meta.append(el("span", "badge repeat-badge", "repeat"));
    card.append(meta, el("h2", "title", post.title));

    const body = el("div", "body");
    for (const paragraph of (post.body || "").split(/\n\s*\n/)) {
      if (paragraph.trim()) body.append(el("p", null, paragraph));
    }
    card.append(body);
    if (post.author) card.append(el("div", "author", `— ${post.author}`));

    const chips = el("div", "chips");
    const seen = new Set();
    for (const entity of data.entities || []) {
      if (seen.has(entity.canonical)) continue;
      seen.add(entity.canonical);
      const chip = el("span", "chip entity", entity.canonical);
      chip.dataset.label = entity.label;
      chip.title = entity.label;
      chips.append(chip);
      addOption(filterEntity, entity.canonical, entity.canonical);
    }
    for (const topic of data.topics || []) {
      const chip = el("span", "chip topic", topic);
      chips.append(chip);
      addOption(filterTopic, topic, topic);
    }
    card.append(chips);
    addOption(filterBlog, data.blog.id, data.blog.title ? `${data.blog.title} (${data.blog.id})` : data.blog.id);
  }

  function storyGroup(event) {
    const key = event.data.story_id || `post:${postKey(event.data)}`;
    let group = stories.get(key);
    if (!group) {
      group = el("section", "story");
      group.dataset.story = key;
      group.append(el("h3", "story-head"));
      stories.set(key, group);
    }
    return group;
  }

  function refreshStoryHead(group) {
    const cards = group.querySelectorAll("article.card");
    group.classList.toggle("multi", cards.length > 1);
    group.querySelector(".story-head").textContent = cards.length > 1 ? `Story · ${cards.length} posts` : "";
  }

  function place(card, event) {
    const group = storyGroup(event);
    const old = card.parentElement;
    // Newest first inside a story, by publication time.
    const later = [...group.querySelectorAll("article.card")].find(
      (other) => other !== card && posts.get(other.dataset.key).event.data.post.published_at < event.data.post.published_at,
    );
    group.insertBefore(card, later || null);
    feed.prepend(group); // the story with the latest activity goes to the top
    if (old && old !== group) {
      refreshStoryHead(old);
      if (!old.querySelector("article.card")) old.remove();
    }
    refreshStoryHead(group);
  }

  function onPost(event) {
    if (!event || !event.data || !event.data.post || !event.data.blog) return;
    const key = postKey(event.data);
    byEventId.set(event.id, key);
    const known = posts.get(key);
    if (known && known.event.data.post.revision > event.data.post.revision) return; // an older revision, late
    const card = known ? known.card : el("article", "card");
    card.dataset.key = key;
    posts.set(key, { card, event });
    fillCard(card, event);
    place(card, event);
    applyFilters();
  }

  function onAlert(alert) {
    if (!alert || !alert.event_id) return;
    alerted.add(alert.event_id);
    const key = byEventId.get(alert.event_id);
    if (key && posts.has(key)) {
      const { card, event } = posts.get(key);
      fillCard(card, event);
    }
  }

  function matches(event) {
    const data = event.data;
    const entity = filterEntity.value;
    const topic = filterTopic.value;
    const blog = filterBlog.value;
    if (blog && data.blog.id !== blog) return false;
    if (entity && !(data.entities || []).some((e) => e.canonical === entity)) return false;
    if (topic && !(data.topics || []).includes(topic)) return false;
    return (data.urgency || 0) >= Number(filterUrgency.value);
  }

  function applyFilters() {
    let shown = 0;
    for (const { card, event } of posts.values()) {
      card.hidden = !matches(event);
      if (!card.hidden) shown += 1;
    }
    for (const group of stories.values()) {
      group.hidden = ![...group.querySelectorAll("article.card")].some((card) => !card.hidden);
    }
    urgencyValue.textContent = Number(filterUrgency.value).toFixed(1);
    counts.textContent = `showing ${shown} of ${posts.size} posts`;
  }

  function parse(message) {
    try { return JSON.parse(message.data); } catch (err) { return null; }
  }

  function connect() {
    const url = blogParam ? `/events?blog=${encodeURIComponent(blogParam)}` : "/events";
    const source = new EventSource(url); // resends Last-Event-ID by itself on reconnect
    source.addEventListener("open", () => { status.textContent = "live"; status.dataset.state = "live"; });
    source.addEventListener("error", () => { status.textContent = "reconnecting…"; status.dataset.state = "reconnecting"; });
    source.addEventListener("post", (message) => onPost(parse(message)));
    source.addEventListener("alert", (message) => onAlert(parse(message)));
  }

  filterBlog.addEventListener("change", () => {
    // A blog of its own is served from that blog's stream, with its whole recent history.
    const next = new URLSearchParams(window.location.search);
    if (filterBlog.value) next.set("blog", filterBlog.value); else next.delete("blog");
    window.location.search = next.toString();
  });
  for (const control of [filterEntity, filterTopic, filterUrgency]) {
    control.addEventListener("input", applyFilters);
    control.addEventListener("change", applyFilters);
  }
  if (blogParam) addOption(filterBlog, blogParam, blogParam);
  filterBlog.value = blogParam;
  applyFilters();
  connect();
})();
