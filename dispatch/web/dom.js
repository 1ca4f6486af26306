"use strict";
// DOM helpers shared by the inbox and the dashboard. Every text from the server (names from the
// city config, notes, routing explanations) goes in as a text node, never as HTML.
const $ = (id) => document.getElementById(id);

// el("td", {class: "muted"}, "text", childNode, ...): attributes set one by one, children as text or nodes.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}
