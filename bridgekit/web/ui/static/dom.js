// Building the page's nodes: text always goes in as textContent, never as HTML (the CSP and
// every customer-written value depend on it).

export function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}
