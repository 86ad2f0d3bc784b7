/**
 * The simulator's event queue: a binary min-heap on (time, insertion order) in typed arrays,
 * so that millions of pending events cost a few bytes each and equal times pop in the order
 * they were pushed (runs are reproducible).
 */
export class EventQueue {
  private time = new Float64Array(1024);
  private order = new Float64Array(1024);
  private kind = new Uint8Array(1024);
  private a = new Int32Array(1024);
  private b = new Int32Array(1024);
  private n = 0;
  private pushed = 0;
  /** The popped event's fields (valid until the next pop). */
  popKind = 0;
  popA = 0;
  popB = 0;
  popTime = 0;

  get size(): number {
    return this.n;
  }

  get total(): number {
    return this.pushed;
  }

  private grow(): void {
    const cap = this.time.length * 2;
    const t = new Float64Array(cap);
    t.set(this.time);
    this.time = t;
    const o = new Float64Array(cap);
    o.set(this.order);
    this.order = o;
    const k = new Uint8Array(cap);
    k.set(this.kind);
    this.kind = k;
    const a = new Int32Array(cap);
    a.set(this.a);
    this.a = a;
    const b = new Int32Array(cap);
    b.set(this.b);
    this.b = b;
  }

  private less(i: number, j: number): boolean {
    const ti = this.time[i]!;
    const tj = this.time[j]!;
    return ti < tj || (ti === tj && this.order[i]! < this.order[j]!);
  }

  private swap(i: number, j: number): void {
    const t = this.time[i]!;
    this.time[i] = this.time[j]!;
    this.time[j] = t;
    const o = this.order[i]!;
    this.order[i] = this.order[j]!;
    this.order[j] = o;
    const k = this.kind[i]!;
    this.kind[i] = this.kind[j]!;
    this.kind[j] = k;
    const a = this.a[i]!;
    this.a[i] = this.a[j]!;
    this.a[j] = a;
    const b = this.b[i]!;
    this.b[i] = this.b[j]!;
    this.b[j] = b;
  }

  push(time: number, kind: number, a = 0, b = 0): void {
    if (this.n === this.time.length) this.grow();
    let i = this.n++;
    this.time[i] = time;
    this.order[i] = this.pushed++;
    this.kind[i] = kind;
    this.a[i] = a;
    this.b[i] = b;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Time of the next event, or Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? this.time[0]! : Number.POSITIVE_INFINITY;
  }

  /** Pops the next event into popTime/popKind/popA/popB; false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    this.popTime = this.time[0]!;
    this.popKind = this.kind[0]!;
    this.popA = this.a[0]!;
    this.popB = this.b[0]!;
    this.n--;
    if (this.n > 0) {
      this.swap(0, this.n);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.n && this.less(l, m)) m = l;
        if (r < this.n && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return true;
  }
}
