// The realtime stream (GET /api/v1/events) read with fetch, so the session cookie goes with it.
// Calls onEvent(kind, data) per event and onState("live" | "reconnecting"); reconnects with a
// back-off, and calls onEvent("reconnected", {}) so the page reloads what it shows — also when
// the server says this stream fell too far behind to be sent what it missed ("stream.resync").

export function listen(onEvent, onState) {
  let delay = 1000;
  let first = true;
  async function connect() {
    const response = await fetch("/api/v1/events", { headers: { Accept: "text/event-stream" }, credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/sign-in");
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(": connected")) {
          onState("live");
          delay = 1000;
          if (!first) onEvent("reconnected", {});
          first = false;
        }
        let kind = null;
        let data = null;
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data = line.slice(6);
        }
        if (kind === "stream.resync") kind = "reconnected";
        if (kind && data) {
          try {
            onEvent(kind, JSON.parse(data));
          } catch (error) {
            console.warn("event not handled", kind, error);
          }
        }
      }
    }
  }
  async function loop() {
    for (;;) {
      try {
        await connect();
      } catch {
        // the server restarted or the network dropped: try again below
      }
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }
  loop();
}
