// Userspace udev on the simulated kernel: a queue of uevents handled by the rules that matter
// for binding, in rule-file order:
//   60-flavourctl.rules  ACTION=="add", SUBSYSTEM=="pci", RUN+="flavourctl hook"   (when installed)
//                        ACTION=="change", SUBSYSTEM=="pci", ENV{DRIVER_FLAVOUR}=="?*" → the flavour hook
//   80-drivers.rules     ACTION=="add", ENV{MODALIAS}=="?*", RUN{builtin}+="kmod load $env{MODALIAS}"
// udevd runs events of different devices in parallel workers and events of one device in
// order; the seed picks the interleaving among the first few waiting events, so one seed
// gives one order.
import type { PciAddress } from "../../pci/address.ts";
import type { SimKernel, Uevent } from "./kernel.ts";
import type { SimModprobe } from "./modprobe.ts";

export interface UdevHooks {
  /** RUN+="flavourctl hook" on a PCI add event (60-flavourctl.rules, when installed). */
  onAdd?: (address: PciAddress) => void;
  /** The driver_flavour change event: userspace picks and loads the module. */
  onFlavour?: (address: PciAddress, flavour: string) => void;
}

/** udevd's children_max on a small machine: how many queued events may run "at once". */
const WORKERS = 4;

export class SimUdev {
  readonly queue: Uevent[] = [];
  /** Events before this index are handled (the queue is consumed from the front). */
  private head = 0;
  hooks: UdevHooks = {};
  /** 60-flavourctl.rules is installed (flavourctl udev-rule --install). */
  hookRuleInstalled = true;
  rng: number;
  private settling = false;

  private readonly kernel: SimKernel;
  private readonly modprobe: SimModprobe;

  constructor(kernel: SimKernel, modprobe: SimModprobe, seed: number) {
    this.kernel = kernel;
    this.modprobe = modprobe;
    this.rng = seed >>> 0;
  }

  private say(text: string): void {
    this.kernel.trace.push({ t: ++this.kernel.now, source: "udev", text });
  }

  /** mulberry32: a small deterministic generator. */
  private random(): number {
    this.rng = (this.rng + 0x6d2b79f5) >>> 0;
    let t = this.rng;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Whether a rule above reacts to such an event (the others pass through udev untouched). */
  handles(action: Uevent["action"], subsystem: string): boolean {
    return subsystem === "pci" && (action === "add" || action === "change");
  }

  /** `udevadm settle`: handles every queued event, and the events they cause. */
  settle(): void {
    if (this.settling) return; // a hook's own writes: the outer settle handles their events
    this.settling = true;
    try {
      this.drain();
    } finally {
      this.settling = false;
    }
  }

  private drain(): void {
    while (this.head < this.queue.length) {
      // The first event of each device among the first WORKERS waiting: what udevd could run now.
      const ready: number[] = [];
      const end = Math.min(this.queue.length, this.head + WORKERS);
      for (let i = this.head; i < end; i++) {
        const devpath = (this.queue[i] as Uevent).devpath;
        let first = true;
        for (let k = this.head; k < i; k++) if ((this.queue[k] as Uevent).devpath === devpath) first = false;
        if (first) ready.push(i);
      }
      const pick =
        ready.length === 1 ? this.head : (ready[Math.floor(this.random() * ready.length)] as number);
      const event = this.queue[pick] as Uevent;
      // Take it out of the window, keeping the order of the others.
      for (let j = pick; j > this.head; j--) this.queue[j] = this.queue[j - 1] as Uevent;
      this.head++;
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.handle(event);
    }
  }

  private handle(event: Uevent): void {
    const v = event.vars;
    if (v.SUBSYSTEM !== "pci") return;
    const address = v.PCI_SLOT_NAME as PciAddress;
    if (event.action === "add") {
      if (this.hookRuleInstalled && this.hooks.onAdd) {
        this.say(`${address}: RUN "flavourctl hook" (60-flavourctl.rules)`);
        this.hooks.onAdd(address);
      }
      if (v.MODALIAS) {
        // The hook may have given the device its flavour already; kmod load still runs.
        this.say(`${address}: RUN{builtin} kmod load ${v.MODALIAS} (80-drivers.rules)`);
        this.modprobe.run(v.MODALIAS, { blacklist: true });
      }
    } else if (event.action === "change" && v.DRIVER_FLAVOUR !== undefined) {
      if (v.DRIVER_FLAVOUR === "") {
        this.say(`${address}: driver_flavour cleared: RUN{builtin} kmod load ${v.MODALIAS}`);
        if (v.MODALIAS) this.modprobe.run(v.MODALIAS, { blacklist: true });
        return;
      }
      this.say(`${address}: driver_flavour=${v.DRIVER_FLAVOUR}: RUN "flavourctl hook" with ${v.MODALIAS}`);
      this.hooks.onFlavour?.(address, v.DRIVER_FLAVOUR as string);
    }
  }
}
