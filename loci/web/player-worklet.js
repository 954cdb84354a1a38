// AudioWorklet of the genius-loci web client: plays interleaved stereo float32 blocks
// from a jitter buffer. Blocks arrive in bursts over the network (a machine stall holds
// them back, then they come all at once); the buffer starts playing once it holds
// `targetSeconds` of audio and, when it runs dry, plays silence and refills to that
// level before playing again. Counters go to the page four times a second.
class LociPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = (options && options.processorOptions) || {};
    this.capacity = Math.round(sampleRate * (settings.capacitySeconds || 2.0));
    this.target = Math.round(sampleRate * (settings.targetSeconds || 0.08));
    this.left = new Float32Array(this.capacity);
    this.right = new Float32Array(this.capacity);
    this.read = 0;
    this.write = 0;
    this.buffered = 0;
    this.playing = false;
    this.blocksReceived = 0;
    this.framesPlayed = 0;
    this.underruns = 0;
    this.overflows = 0;
    this.lastReport = 0;
    this.port.onmessage = (event) => this.push(event.data);
  }

  push(interleaved) {
    const frames = interleaved.length / 2;
    if (this.buffered + frames > this.capacity) {
      // Far behind: drop the oldest audio rather than grow the delay without bound.
      const drop = this.buffered + frames - this.capacity;
      this.read = (this.read + drop) % this.capacity;
      this.buffered -= drop;
      this.overflows += 1;
    }
    for (let i = 0; i < frames; i++) {
      this.left[this.write] = interleaved[2 * i];
      this.right[this.write] = interleaved[2 * i + 1];
      this.write = (this.write + 1) % this.capacity;
    }
    this.buffered += frames;
    this.blocksReceived += 1;
  }

  process(inputs, outputs) {
    const out = outputs[0];
    const frames = out[0].length;
    if (!this.playing && this.buffered >= this.target) this.playing = true;
    if (this.playing && this.buffered < frames) {
      this.playing = false;
      this.underruns += 1;
    }
    if (this.playing) {
      for (let i = 0; i < frames; i++) {
        out[0][i] = this.left[this.read];
        if (out[1]) out[1][i] = this.right[this.read];
        this.read = (this.read + 1) % this.capacity;
      }
      this.buffered -= frames;
      this.framesPlayed += frames;
    } else {
      out[0].fill(0);
      if (out[1]) out[1].fill(0);
    }
    if (currentTime - this.lastReport >= 0.25) {
      this.lastReport = currentTime;
      this.port.postMessage({
        blocksReceived: this.blocksReceived,
        framesPlayed: this.framesPlayed,
        underruns: this.underruns,
        overflows: this.overflows,
        bufferedSeconds: this.buffered / sampleRate,
        playing: this.playing,
      });
    }
    return true;
  }
}

registerProcessor("loci-player", LociPlayer);
