// The pre-join camera and microphone: preview, device choice, a microphone level meter, and what
// to say when permission is refused or a device is missing. Only the browser's media APIs.

const CONSTRAINTS = { video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: true };

export class Preview {
  constructor({ video, cameraSelect, micSelect, meter, status, text }) {
    Object.assign(this, { video, cameraSelect, micSelect, meter, status, text });
    this.stream = null;
    this.permissionDenied = false;
    cameraSelect.addEventListener("change", () => this.start());
    micSelect.addEventListener("change", () => this.start());
  }

  get hasAudio() { return Boolean(this.stream && this.stream.getAudioTracks().length); }
  get hasVideo() { return Boolean(this.stream && this.stream.getVideoTracks().length); }
  get cameraId() { return this.cameraSelect.value || undefined; }
  get micId() { return this.micSelect.value || undefined; }

  async start() {
    this.stop();
    const want = {
      video: this.cameraId ? { ...CONSTRAINTS.video, deviceId: { exact: this.cameraId } } : CONSTRAINTS.video,
      audio: this.micId ? { deviceId: { exact: this.micId } } : true,
    };
    this.stream = await this.#firstWorking([want, { audio: want.audio }, { video: want.video }]);
    this.video.srcObject = this.stream;
    await this.#listDevices();
    this.#describe();
    if (this.hasAudio) this.#meter();
  }

  async #firstWorking(attempts) {
    for (const constraints of attempts) {
      try {
        return await navigator.mediaDevices.getUserMedia(constraints);
      } catch (error) {
        if (error.name === "NotAllowedError" || error.name === "SecurityError") {
          this.permissionDenied = true;
          return null;
        }
      }
    }
    return null;
  }

  async #listDevices() {
    const devices = navigator.mediaDevices ? await navigator.mediaDevices.enumerateDevices() : [];
    const cameras = devices.filter((d) => d.kind === "videoinput");
    this.#fill(this.cameraSelect, cameras, this.stream?.getVideoTracks()[0], this.text.camera);
    this.#fill(this.micSelect, devices.filter((d) => d.kind === "audioinput"), this.stream?.getAudioTracks()[0], this.text.microphone);
  }

  // Without permission the browser gives no labels: "Camera 1", "Camera 2", ...
  #fill(select, devices, track, noun) {
    const current = track?.getSettings().deviceId;
    select.replaceChildren(
      ...devices.map((device, index) => new Option(device.label || `${noun} ${index + 1}`, device.deviceId, false, device.deviceId === current)),
    );
    if (!devices.length) select.append(new Option(this.text.no_device, ""));
    select.disabled = devices.length < 2;
  }

  #describe() {
    const { text } = this;
    let message = "";
    if (this.permissionDenied) message = text.permission_denied;
    else if (!this.hasAudio && !this.hasVideo) message = text.no_devices;
    else if (!this.hasVideo) message = text.no_camera;
    else if (!this.hasAudio) message = text.no_microphone;
    this.status.textContent = message;
    this.status.hidden = !message;
    this.status.className = this.permissionDenied ? "error" : "notice";
    this.video.parentElement.hidden = !this.hasVideo;
  }

  #meter() {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(this.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, v) => sum + v * v, 0) / samples.length);
      this.meter.value = Math.min(1, rms * 4);
      this.frame = requestAnimationFrame(tick);
    };
    this.audioContext = context;
    tick();
  }

  // Stop the preview's tracks; `keep` hands the stream on (to the call) instead of stopping it.
  stop({ keep = false } = {}) {
    cancelAnimationFrame(this.frame);
    this.audioContext?.close();
    this.audioContext = null;
    if (!keep) this.stream?.getTracks().forEach((track) => track.stop());
    this.video.srcObject = null;
    const stream = this.stream;
    this.stream = null;
    return stream;
  }
}
