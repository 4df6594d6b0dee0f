import { errorFrame, type EndpointCodec } from "./types.js";

/** `/ws/hub` ⇄ `/hub` (docs/legacy-protocol.md section 6): the server pushes; client frames are ignored. */
export const hubCodec: EndpointCodec = {
  namespace: "/hub",
  inbound: {},
  outbound: { error: errorFrame },
};
