// The genius-loci web client: protocol version 1 (docs/protocol.md).
// Sends a hello, head poses (WebXR convention: y up, -z forward, quaternion x y z w) from
// mouse or touch drags and the phone's orientation, webcam frames (JPEG) about twice a
// second when allowed, and controls; plays the binary audio blocks through an AudioWorklet
// with a jitter buffer and shows the server's state. `window.loci` exposes the counters.
"use strict";

const PROTOCOL = 1;
const HEADER_BYTES = 40;
const loci = {
  ws: null, context: null, node: null, stats: {}, state: null, states: 0,
  errors: [], blocks: 0, lastSequence: -1, gaps: 0, controlsSent: 0,
  yaw: 0, pitch: 0, poseSent: 0,
};
window.loci = loci;

const $ = (id) => document.getElementById(id);

function status(text) { $("status").textContent = text; }

function decodeAudio(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "LOCA") return null;
  const format = view.getUint8(5);
  const sequence = view.getUint32(8, true);
  const frames = view.getUint32(36, true);
  let samples;
  if (format === 2) {
    samples = new Float32Array(buffer.slice(HEADER_BYTES, HEADER_BYTES + frames * 8));
  } else {
    const ints = new Int16Array(buffer.slice(HEADER_BYTES, HEADER_BYTES + frames * 4));
    samples = new Float32Array(ints.length);
    for (let i = 0; i < ints.length; i++) samples[i] = ints[i] / 32768;
  }
  return { sequence, frames, samples };
}

function send(message) {
  if (loci.ws && loci.ws.readyState === WebSocket.OPEN) loci.ws.send(JSON.stringify(message));
}

function control(action, fields) {
  send(Object.assign({ type: "control", action }, fields || {}));
  loci.controlsSent += 1;
}

// A yaw about +y (turning left is positive) then a pitch about +x: WebXR's quaternion.
function orientation(yawDeg, pitchDeg) {
  const y = (yawDeg * Math.PI) / 360;
  const p = (pitchDeg * Math.PI) / 360;
  const [cy, sy, cp, sp] = [Math.cos(y), Math.sin(y), Math.cos(p), Math.sin(p)];
  return [cy * sp, sy * cp, -sy * sp, cy * cp];
}

function sendPose() {
  send({ type: "pose", t: performance.now() / 1000, position: [0, 0, 0],
         orientation: orientation(loci.yaw, loci.pitch) });
  loci.poseSent += 1;
  $("head").textContent = `yaw ${loci.yaw.toFixed(0)}°, pitch ${loci.pitch.toFixed(0)}°`;
}

let posePending = false;
function poseSoon() {
  if (posePending) return;
  posePending = true;
  requestAnimationFrame(() => { posePending = false; sendPose(); });
}

function showState(state) {
  loci.state = state;
  loci.states += 1;
  const plan = state.plan || {};
  const bar = state.bar || {};
  $("plan").textContent =
    `${plan.key}, ${bar.tempo_bpm} bpm, ${plan.meter}, ${plan.genre}\n` +
    `bar ${bar.index} (${bar.section} ${bar.bar_in_section + 1})\n` +
    (state.pending || []).map((p) => `next bar line: ${p.what}`).join("\n");
  $("explanation").textContent = (state.explanation || []).join("\n");
  $("environment").textContent = JSON.stringify(state.environment, null, 1);
  $("tempo-value").textContent = Math.round(bar.tempo_bpm);
  const stems = $("stems");
  const names = (state.stems || []).map((s) => s.name).join(",");
  if (stems.dataset.names !== names) {
    stems.dataset.names = names;
    stems.textContent = "";
    for (const stem of state.stems) {
      const button = document.createElement("button");
      button.textContent = stem.name;
      button.dataset.stem = stem.name;
      button.onclick = () => {
        const muted = !button.classList.contains("muted");
        control("mute", { stem: stem.name, muted });
      };
      stems.appendChild(button);
    }
  }
  for (const stem of state.stems || []) {
    const button = stems.querySelector(`button[data-stem="${stem.name}"]`);
    if (button) button.classList.toggle("muted", stem.muted);
  }
}

async function start() {
  $("start").disabled = true;
  status("starting audio");
  loci.context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await loci.context.audioWorklet.addModule("/web/player-worklet.js");
  loci.node = new AudioWorkletNode(loci.context, "loci-player", {
    outputChannelCount: [2],
    processorOptions: { targetSeconds: 0.08, capacitySeconds: 2.0 },
  });
  loci.node.port.onmessage = (event) => {
    loci.stats = event.data;
    $("stats").textContent =
      `blocks ${loci.blocks}, played ${(event.data.framesPlayed / 48000).toFixed(1)} s, ` +
      `buffer ${(event.data.bufferedSeconds * 1000).toFixed(0)} ms, ` +
      `underruns ${event.data.underruns}, gaps ${loci.gaps}`;
  };
  loci.node.connect(loci.context.destination);
  await loci.context.resume();

  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = $("token").value || fragment.get("token") || undefined;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/session`);
  ws.binaryType = "arraybuffer";
  loci.ws = ws;
  status("connecting");
  ws.onopen = () => {
    const hello = { type: "hello", protocol: PROTOCOL, sample_rate: 48000, block_size: 256,
                    format: "float32", instruction: $("instruction").value,
                    place: $("place").value };
    if (token) hello.token = token;
    ws.send(JSON.stringify(hello));
    status("composing");
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.type === "state") {
        if (!loci.state) {
          status("playing");
          for (const id of ["send-instruction", "like", "dislike"]) $(id).disabled = false;
          $("tempo").value = Math.round(message.bar.tempo_bpm);
        }
        showState(message);
      } else if (message.type === "error") {
        loci.errors.push(message);
        status(`error ${message.code}: ${message.message}`);
      }
      return;
    }
    const block = decodeAudio(event.data);
    if (!block) return;
    if (loci.lastSequence >= 0 && block.sequence !== loci.lastSequence + 1) loci.gaps += 1;
    loci.lastSequence = block.sequence;
    loci.blocks += 1;
    loci.node.port.postMessage(block.samples, [block.samples.buffer]);
  };
  ws.onclose = (event) => status(`closed (${event.code})`);
}

function setUpControls() {
  $("start").onclick = () => start().catch((error) => status(`failed: ${error}`));
  $("send-instruction").onclick = () => control("instruction", { text: $("instruction").value });
  $("like").onclick = () => control("like");
  $("dislike").onclick = () => control("dislike");
  $("volume").oninput = () => {
    $("volume-value").textContent = Number($("volume").value).toFixed(2);
    control("volume", { value: Number($("volume").value) });
  };
  $("tempo").onchange = () => control("tempo", { bpm: Number($("tempo").value) });
  $("energy").onchange = () => {
    $("energy-value").textContent = Number($("energy").value).toFixed(2);
    control("energy", { value: Number($("energy").value) });
  };

  const head = $("head");
  let drag = null;
  head.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, yaw: loci.yaw, pitch: loci.pitch };
    head.setPointerCapture(e.pointerId);
  });
  head.addEventListener("pointermove", (e) => {
    if (!drag) return;
    // Dragging to the right turns the head right (yaw down); up looks up.
    loci.yaw = drag.yaw - (e.clientX - drag.x) * 0.5;
    loci.pitch = Math.max(-80, Math.min(80, drag.pitch - (e.clientY - drag.y) * 0.5));
    poseSoon();
  });
  head.addEventListener("pointerup", () => { drag = null; });
  window.addEventListener("deviceorientation", (e) => {
    if (e.alpha === null) return;
    loci.yaw = e.alpha;
    loci.pitch = Math.max(-80, Math.min(80, (e.beta || 90) - 90));
    poseSoon();
  });

  $("camera").onchange = async () => {
    if (!$("camera").checked) return;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640 } });
      const video = $("video");
      video.srcObject = stream;
      await video.play();
      const canvas = document.createElement("canvas");
      const timer = setInterval(() => {
        if (!$("camera").checked || !loci.ws) { clearInterval(timer); return; }
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0);
        canvas.toBlob(async (blob) => sendFrame(new Uint8Array(await blob.arrayBuffer())),
                      "image/jpeg", 0.7);
      }, 500);
    } catch (error) {
      $("camera").checked = false;
      status(`camera: ${error}`);
    }
  };
}

function sendFrame(jpeg) {
  if (!loci.ws || loci.ws.readyState !== WebSocket.OPEN) return;
  const header = new TextEncoder().encode(JSON.stringify({
    type: "frame", t: performance.now() / 1000, image: { format: "jpeg", bytes: jpeg.length },
  }));
  const message = new Uint8Array(8 + header.length + jpeg.length);
  message.set([76, 79, 67, 70], 0); // "LOCF"
  new DataView(message.buffer).setUint32(4, header.length, true);
  message.set(header, 8);
  message.set(jpeg, 8 + header.length);
  loci.ws.send(message);
}

setUpControls();
