// Served with the Socket.IO Admin UI by the relay: preset its connection form to this relay (same
// origin, WebSocket only, the /admin namespace) unless the operator saved other settings.
if (!localStorage.getItem("server_url")) {
  localStorage.setItem("server_url", location.origin);
  localStorage.setItem("ws_only", "true");
  localStorage.setItem("path", "/socket.io");
  localStorage.setItem("namespace", "/admin");
}
