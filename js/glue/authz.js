"use components";
export function instantiate(getCoreModule, imports, instantiateCore = WebAssembly.instantiate) {
  
  let dv = new DataView(new ArrayBuffer());
  const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);
  
  function toUint32(val) {
    
    return val >>> 0;
  }
  
  
  function _isValidNumericPrimitive(ty, v) {
    if (v === undefined || v === null) { return false; }
    switch (ty) {
      case 'bool':
      return v === 0 || v === 1;
      break;
      case 'u8':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;
      break;
      case 's8':
      return typeof v === 'number' && Number.isInteger(v) && v >= -128 && v <= 127;
      break;
      case 'u16':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
      break;
      case 's16':
      return typeof v === 'number' && Number.isInteger(v) && v >= -32768 && v <= 32767;
      case 'u32':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 4_294_967_295;
      case 's32':
      return typeof v === 'number' && Number.isInteger(v) && v >= -2_147_483_648 && v <= 2_147_483_647;
      case 'u64':
      return typeof v === 'bigint' && v >= 0 && v <= 18_446_744_073_709_551_615n;
      case 's64':
      return typeof v === 'bigint' && v >= -9223372036854775808n && v <= 9223372036854775807n;
      break;
      case 'f32':
      case 'f64': return typeof v === 'number';
      default:
      return false;
    }
    return true;
  }
  
  function _requireValidNumericPrimitive(ty, v) {
    if (v === undefined  || v === null || !_isValidNumericPrimitive(ty, v)) {
      throw new TypeError(`invalid ${ty} value [${v}]`);
    }
    return true;
  }
  const TEXT_DECODER_UTF8 = new TextDecoder();
  const TEXT_ENCODER_UTF8 = new TextEncoder();
  
  function _utf8AllocateAndEncode(s, realloc, memory) {
    if (typeof s !== 'string') {
      throw new TypeError('expected a string, received [' + typeof s + ']');
    }
    if (s.length === 0) { return { ptr: 1, len: 0 }; }
    // Compute the exact allocation size up front. Some older preview1
    // adapters only support an initial allocation, not a subsequent shrink.
    let len = 0;
    let codepoints = 0;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      codepoints++;
      if (ch < 0x80) { len += 1; }
      else if (ch < 0x800) { len += 2; }
      else if (ch >= 0xd800 && ch <= 0xdbff &&
      i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        len += 4;
        i++;
      } else { len += 3; }
    }
    const ptr = realloc(0, 0, 1, len);
    const { read, written } = TEXT_ENCODER_UTF8.encodeInto(
    s,
    new Uint8Array(memory.buffer, ptr, len),
    );
    if (read !== s.length || written !== len) {
      throw new Error('failed to encode whole string');
    }
    const res = { ptr, len, codepoints };
    return res;
  }
  
  let RESOURCE_SCOPE_ID = 0;
  const RESOURCE_SCOPE_TASKS = new Map();
  const ASYNC_TASKS_BY_COMPONENT_IDX = new Map();
  const ASYNC_CURRENT_TASK_IDS = [];
  const ASYNC_CURRENT_COMPONENT_IDXS = [];
  
  const _debugLog = (...args) => {
    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
    console.debug(...args);
  };
  
  function clearCurrentTask(componentIdx, taskID) {
    _debugLog('[clearCurrentTask()] args', { componentIdx, taskID });
    
    if (componentIdx === undefined || componentIdx === null) {
      throw new Error('missing/invalid component instance index while ending current task');
    }
    
    const tasks = ASYNC_TASKS_BY_COMPONENT_IDX.get(componentIdx);
    if (!tasks || !Array.isArray(tasks)) {
      throw new Error('missing/invalid tasks for component instance while ending task');
    }
    if (tasks.length == 0) {
      throw new Error(`no current tasks for component instance [${componentIdx}] while ending task`);
    }
    
    if (taskID !== undefined) {
      const last = tasks[tasks.length - 1];
      if (last.id !== taskID) {
        // throw new Error('current task does not match expected task ID');
        return;
      }
    }
    
    ASYNC_CURRENT_TASK_IDS.pop();
    ASYNC_CURRENT_COMPONENT_IDXS.pop();
    
    const taskMeta = tasks.pop();
    return taskMeta.task;
  }
  const ASYNC_STATE = new Map();
  
  function promiseWithResolvers() {
    if (Promise.withResolvers) {
      return Promise.withResolvers();
    } else {
      let resolve;
      let reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    }
  }
  
  class Waitable {
    #componentIdx;
    
    #pendingEventFn = null;
    
    #promise;
    #resolve;
    #reject;
    
    #waitableSet = null;
    
    #hasSyncWaiter = false;
    
    #idx = null; // to component-global waitables
    
    target;
    
    constructor(args) {
      const { componentIdx, target } = args;
      this.#componentIdx = componentIdx;
      this.target = args.target;
      this.#resetPromise();
    }
    
    componentIdx() { return this.#componentIdx; }
    isInSet() { return this.#waitableSet !== null; }
    
    idx() { return this.#idx; }
    setIdx(idx) {
      if (idx === 0) { throw new Error("waitable idx cannot be zero"); }
      this.#idx = idx;
    }
    
    setTarget(tgt) { this.target = tgt; }
    
    #resetPromise() {
      const { promise, resolve, reject } = promiseWithResolvers()
      this.#promise = promise;
      this.#resolve = resolve;
      this.#reject = reject;
    }
    
    resolve() { this.#resolve(); }
    reject(err) { this.#reject(err); }
    promise() { return this.#promise; }
    
    hasPendingEvent() {
      // _debugLog('[Waitable#hasPendingEvent()]', {
        //     componentIdx: this.#componentIdx,
        //     waitable: this,
        //     waitableSet: this.#waitableSet,
        //     hasPendingEvent: this.#pendingEventFn !== null,
        // });
        return this.#pendingEventFn !== null;
      }
      
      setPendingEvent(fn) {
        _debugLog('[Waitable#setPendingEvent()] args', {
          waitable: this,
          inSet: this.#waitableSet,
        });
        this.#pendingEventFn = fn;
      }
      
      getPendingEvent() {
        _debugLog('[Waitable#getPendingEvent()] args', {
          waitable: this,
          inSet: this.#waitableSet,
          hasPendingEvent: this.#pendingEventFn !== null,
        });
        if (this.#pendingEventFn === null) { return null; }
        const eventFn = this.#pendingEventFn;
        this.#pendingEventFn = null;
        const e = eventFn();
        this.#resetPromise();
        return e;
      }
      
      join(waitableSet) {
        _debugLog('[Waitable#join()] args', {
          waitable: this,
          waitableSet: waitableSet,
          isRemoval: waitableSet === null,
        });
        
        if (this.#waitableSet === undefined) {
          throw new TypeError('waitable set must be not be undefined');
        }
        
        if (this.#waitableSet) {
          this.#waitableSet.removeWaitable(this);
        }
        
        this.#waitableSet = waitableSet;
        
        if (waitableSet) {
          this.#waitableSet.addWaitable(this);
        }
      }
      
      drop() {
        _debugLog('[Waitable#drop()] args', {
          componentIdx: this.#componentIdx,
          waitable: this,
        });
        if (this.hasPendingEvent()) {
          throw new Error('waitables with pending events cannot be dropped');
        }
        this.join(null);
      }
      
      async waitForPendingEvent(args) {
        const { cstate } = args;
        if (!cstate) { throw new TypeError('missing component state'); }
        
        if (this.#waitableSet !== null || this.#hasSyncWaiter) {
          throw new Error("waitable is already in a set/has a sync waiter");
        }
        this.#hasSyncWaiter = true;
        await cstate.waitUntil({
          cancellable: false,
          readyFn: () => this.hasPendingEvent(),
        });
        this.#hasSyncWaiter = false;
      }
      
    }
    const INSTANCE_FLAGS = new Map();
    const STORE_TRAP = { error: null };
    const STORE_ASYNC_STATE = { deadlockCheck: null, pendingHostOperations: 0 };
    const WebAssemblyRuntimeError = WebAssembly.RuntimeError;
    
    function _checkForDeadlock() {
      if (STORE_ASYNC_STATE.deadlockCheck !== null || STORE_TRAP.error !== null) { return; }
      STORE_ASYNC_STATE.deadlockCheck = setTimeout(() => {
        STORE_ASYNC_STATE.deadlockCheck = null;
        if (STORE_TRAP.error !== null || STORE_ASYNC_STATE.pendingHostOperations > 0) { return; }
        
        const suspendedTasks = new Set();
        for (const state of ASYNC_STATE.values()) {
          if (state.hasPendingSchedulerWork()) {
            state.runTickLoop();
            return;
          }
          for (const meta of state.suspendedTaskMetas()) {
            suspendedTasks.add(meta.task);
          }
        }
        
        const unresolvedRoots = new Set();
        for (const task of suspendedTasks) {
          const root = task.getRootTask();
          if (!root.isResolvedState()) { unresolvedRoots.add(root); }
        }
        if (unresolvedRoots.size === 0) { return; }
        
        const err = new WebAssemblyRuntimeError('wasm trap: deadlock detected: event loop cannot make further progress');
        // Which tasks were waiting, and on whose behalf. The message stays
        // exactly what the Canonical ABI calls for, so this rides alongside
        // it: a deadlock reported from a real program is otherwise a bare
        // sentence, and the state that produced it is gone by the time
        // anyone reads the failure.
        err.deadlockDetail = {
          pendingHostOperations: STORE_ASYNC_STATE.pendingHostOperations,
          suspendedTasks: [...suspendedTasks].map((task) => ({
            taskID: task.id(),
            componentIdx: task.componentIdx(),
            state: task.taskState(),
            rootTaskID: task.getRootTask().id(),
          })),
          unresolvedRootTaskIDs: [...unresolvedRoots].map((root) => root.id()),
        };
        STORE_TRAP.error = err;
        for (const root of unresolvedRoots) {
          root.setErrored(err);
          root.reject(err);
        }
        for (const task of suspendedTasks) {
          if (!task.isResolvedState() && unresolvedRoots.has(task.getRootTask())) {
            task.setErrored(err);
            task.reject(err);
          }
        }
        for (const state of ASYNC_STATE.values()) { state.runTickLoop(); }
      }, 0);
    }
    
    const CORE_TRAP_MESSAGES = new Map([
    ['unreachable', "wasm trap: wasm `unreachable` instruction executed"],
    ['memory access out of bounds', "wasm trap: out of bounds memory access"],
    ['divide by zero', "wasm trap: integer divide by zero"],
    ['remainder by zero', "wasm trap: integer divide by zero"],
    ['divide result unrepresentable', "wasm trap: integer overflow"],
    ['float unrepresentable in integer range', "wasm trap: invalid conversion to integer"],
    ['table index is out of bounds', "wasm trap: undefined element: out of bounds table access"],
    ['function signature mismatch', "wasm trap: indirect call type mismatch"],
    ['call stack exhausted', "wasm trap: call stack exhausted"],
    ]);
    function _normalizeCoreTrap(err) {
      if (!(err instanceof WebAssemblyRuntimeError)) { return err; }
      const message = CORE_TRAP_MESSAGES.get(err.message);
      if (message !== undefined) { err.message = message; }
      return err;
    }
    
    class RepTable {
      // Sentinel marking a freed slot; the freelist link for a freed slot
      // lives in the odd cell. This keeps get()/contains()/remove() on freed
      // reps well-defined (previously they returned/corrupted freelist links).
      static FREE = Symbol('RepTable.free');
      
      #data = [0, null];
      #size = 0;
      #target;
      
      constructor(args) {
        this.target = args?.target;
      }
      
      data() { return this.#data; }
      
      insert(val) {
        _debugLog('[RepTable#insert()] args', { val, target: this.target });
        const freeIdx = this.#data[0];
        if (freeIdx === 0) {
          this.#data.push(val);
          this.#data.push(null);
          const rep = (this.#data.length >> 1) - 1;
          _debugLog('[RepTable#insert()] inserted', { val, target: this.target, rep });
          this.#size += 1;
          return rep;
        }
        const placementIdx = freeIdx << 1;
        if (this.#data[placementIdx] !== RepTable.FREE) {
          throw new Error('corrupt rep table freelist: head does not point at a freed slot');
        }
        this.#data[0] = this.#data[placementIdx + 1];
        this.#data[placementIdx] = val;
        this.#data[placementIdx + 1] = null;
        _debugLog('[RepTable#insert()] inserted', { val, target: this.target, rep: freeIdx });
        this.#size += 1;
        return freeIdx;
      }
      
      get(rep) {
        _debugLog('[RepTable#get()] args', { rep, target: this.target });
        if (rep === 0) { throw new Error('invalid resource rep during get, (cannot be 0)'); }
        
        const baseIdx = rep << 1;
        const val = this.#data[baseIdx];
        if (val === RepTable.FREE) { return undefined; }
        return val;
      }
      
      contains(rep) {
        _debugLog('[RepTable#contains()] args', { rep, target: this.target });
        if (rep === 0) { throw new Error('invalid resource rep during contains, (cannot be 0)'); }
        
        const baseIdx = rep << 1;
        const val = this.#data[baseIdx];
        return val !== RepTable.FREE && !!val;
      }
      
      remove(rep) {
        _debugLog('[RepTable#remove()] args', { rep, target: this.target });
        if (rep === 0) { throw new Error('invalid resource rep during remove, (cannot be 0)'); }
        if (this.#data.length === 2) { throw new Error('invalid'); }
        
        const baseIdx = rep << 1;
        if (baseIdx >= this.#data.length) {
          throw new Error(`invalid rep [${rep}] during remove, out of range`);
        }
        const val = this.#data[baseIdx];
        if (val === RepTable.FREE) {
          throw new Error(`double removal of rep [${rep}] (already freed)`);
        }
        
        this.#data[baseIdx] = RepTable.FREE;
        this.#data[baseIdx + 1] = this.#data[0];
        this.#data[0] = rep;
        this.#size -= 1;
        
        return val;
      }
      
      size() { return this.#size; }
      
      clear() {
        _debugLog('[RepTable#clear()] args', { rep, target: this.target });
        this.#data = [0, null];
      }
    }
    
    class ComponentAsyncState {
      static EVENT_HANDLER_EVENTS = [ 'backpressure-change' ];
      
      static TickResult = {
        // no suspended tasks remain
        DONE: 'done',
        // a suspended task was resumed (more may be ready)
        RESUMED: 'resumed',
        // suspended tasks remain but none were ready
        IDLE: 'idle',
      };
      
      #componentIdx;
      #callingAsyncImport = false;
      #syncImportWait = promiseWithResolvers();
      #lockHolderTaskID = null;
      #lockWaiters = [];
      #lockHandoffScheduled = false;
      #pendingTaskStarts = 0;
      #parkedTasks = new Map();
      #suspendedTasksByTaskID = new Map();
      #suspendedTaskIDs = [];
      #errored = null;
      #trapped = false;
      #backpressure = 0;
      #backpressureWaiters = 0n;
      
      #handlerMap = new Map();
      #nextHandlerID = 0n;
      
      #tickLoop = null;
      #tickLoopInterval = null;
      
      #onExclusiveReleaseHandlers = [];
      
      #mayLeave = true;
      
      handles;
      subtasks;
      
      constructor(args) {
        this.#componentIdx = args.componentIdx;
        this.handles = new RepTable({ target: `component [${this.#componentIdx}] handles (waitable objects)` });
        this.subtasks = new RepTable({ target: `component [${this.#componentIdx}] subtasks` });
      };
      
      componentIdx() { return this.#componentIdx; }
      
      get mayLeave() {
        const flags = INSTANCE_FLAGS.get(this.#componentIdx);
        return flags === undefined ? this.#mayLeave : flags.value === 1;
      }
      set mayLeave(value) {
        if (typeof value !== 'boolean') { throw new TypeError('mayLeave must be a boolean'); }
        this.#mayLeave = value;
        const flags = INSTANCE_FLAGS.get(this.#componentIdx);
        if (flags !== undefined) { flags.value = value ? 1 : 0; }
      }
      
      errored() { return this.#errored !== null; }
      setErrored(err) {
        _debugLog('[ComponentAsyncState#setErrored()] component errored', { err, componentIdx: this.#componentIdx });
        if (this.#errored) { return; }
        if (!err) {
          err = new Error('error elswehere (see other component instance error)')
          err.componentIdx = this.#componentIdx;
        }
        this.#errored = err;
      }
      
      markTrapped(err) {
        if (!(err instanceof WebAssemblyRuntimeError)) {
          return false;
        }
        err = _normalizeCoreTrap(err);
        this.#trapped = true;
        _debugLog('[ComponentAsyncState#markTrapped()] component trapped', { err, componentIdx: this.#componentIdx });
        if (STORE_TRAP.error === null) { STORE_TRAP.error = err; }
        return true;
      }
      
      throwIfTrapped() {
        if (this.#trapped) {
          throw new WebAssemblyRuntimeError("wasm trap: cannot enter component instance");
        }
      }
      
      callingSyncImport(val) {
        if (val === undefined) { return this.#callingAsyncImport; }
        if (typeof val !== 'boolean') { throw new TypeError('invalid setting for async import'); }
        const prev = this.#callingAsyncImport;
        this.#callingAsyncImport = val;
        if (prev === true && this.#callingAsyncImport === false) {
          this.#notifySyncImportEnd();
        }
      }
      
      #notifySyncImportEnd() {
        const existing = this.#syncImportWait;
        this.#syncImportWait = promiseWithResolvers();
        existing.resolve();
      }
      
      async waitForSyncImportCallEnd() {
        await this.#syncImportWait.promise;
      }
      
      setBackpressure(v) {
        this.#backpressure = v;
        return this.#backpressure
      }
      getBackpressure() { return this.#backpressure; }
      
      incrementBackpressure() {
        const current = this.#backpressure;
        if (current < 0 || current > 2**16) {
          throw new Error(`invalid current backpressure value [${current}]`);
        }
        const newValue = this.getBackpressure() + 1;
        if (newValue >= 2**16) {
          throw new Error(`invalid new backpressure value [${newValue}], overflow`);
        }
        return this.setBackpressure(newValue);
      }
      
      decrementBackpressure() {
        const current = this.#backpressure;
        if (current < 0 || current > 2**16) {
          throw new Error(`invalid current backpressure value [${current}]`);
        }
        const newValue = Math.max(0, current - 1);
        if (newValue < 0) {
          throw new Error(`invalid new backpressure value [${newValue}], underflow`);
        }
        return this.setBackpressure(newValue);
      }
      hasBackpressure() { return this.#backpressure > 0; }
      
      waitForBackpressure() {
        let backpressureCleared = false;
        const cstate = this;
        cstate.addBackpressureWaiter();
        const handlerID = this.registerHandler({
          event: 'backpressure-change',
          fn: (bp) => {
            if (bp === 0) {
              cstate.removeHandler(handlerID);
              backpressureCleared = true;
            }
          }
        });
        return new Promise((resolve) => {
          const interval = setInterval(() => {
            if (backpressureCleared) { return; }
            clearInterval(interval);
            cstate.removeBackpressureWaiter();
            resolve(null);
          }, 0);
        });
      }
      
      registerHandler(args) {
        const { event, fn } = args;
        if (!event) { throw new Error("missing handler event"); }
        if (!fn) { throw new Error("missing handler fn"); }
        
        if (!ComponentAsyncState.EVENT_HANDLER_EVENTS.includes(event)) {
          throw new Error(`unrecognized event handler [${event}]`);
        }
        
        const handlerID = this.#nextHandlerID++;
        let handlers = this.#handlerMap.get(event);
        if (!handlers) {
          handlers = [];
          this.#handlerMap.set(event, handlers)
        }
        
        handlers.push({ id: handlerID, fn, event });
        return handlerID;
      }
      
      removeHandler(args) {
        const { event, handlerID } = args;
        const registeredHandlers = this.#handlerMap.get(event);
        if (!registeredHandlers) { return; }
        const found = registeredHandlers.find(h => h.id === handlerID);
        if (!found) { return; }
        this.#handlerMap.set(event, this.#handlerMap.get(event).filter(h => h.id !== handlerID));
      }
      
      getBackpressureWaiters() { return this.#backpressureWaiters; }
      addBackpressureWaiter() { this.#backpressureWaiters++; }
      removeBackpressureWaiter() {
        this.#backpressureWaiters--;
        if (this.#backpressureWaiters < 0) {
          throw new Error("unexepctedly negative number of backpressure waiters");
        }
      }
      
      // The per-slice mutual-exclusion lock for guest execution in this
      // component instance. Guest slices (callback invocations and
      // sync-lifted bodies) must be atomic per component even across the
      // JSPI suspensions jco introduces for host imports: wit-bindgen's
      // executors publish per-task state in single linear-memory cells
      // (the wasip3-task pointer, context-local storage discipline) that
      // an interleaved slice of the same component corrupts
      //
      // The lock is *owned*: acquisition records the holder task and
      // release is a no-op for anyone else, so a task exiting can no
      // longer drop a hold it does not own (blind acquire/release-any
      // was the previous discipline). Contended acquisition queues
      // FIFO; release hands the lock to the next waiter directly.
      isExclusivelyLocked() { return this.#lockHolderTaskID !== null; }
      exclusivelyLockedBy(taskID) { return this.#lockHolderTaskID === taskID; }
      
      exclusiveLock(taskID) {
        _debugLog('[ComponentAsyncState#exclusiveLock()]', {
          holder: this.#lockHolderTaskID,
          requester: taskID,
          componentIdx: this.#componentIdx,
        });
        if (taskID === undefined || taskID === null) {
          throw new Error('exclusive lock requires the acquiring task id');
        }
        if (this.#lockHolderTaskID !== null) {
          throw new Error(`component [${this.#componentIdx}] exclusive lock held by task [${this.#lockHolderTaskID}], requested by [${taskID}]`);
        }
        this.#lockHolderTaskID = taskID;
      }
      
      // Awaitable acquisition: takes the lock immediately when free,
      // otherwise queues FIFO behind the current holder and earlier
      // waiters. The resolved promise implies ownership.
      acquireExclusiveLock(taskID) {
        if (taskID === undefined || taskID === null) {
          throw new Error('exclusive lock requires the acquiring task id');
        }
        if (this.#lockHolderTaskID === null) {
          this.#lockHolderTaskID = taskID;
          _debugLog('[ComponentAsyncState#acquireExclusiveLock()] acquired', {
            holder: taskID,
            componentIdx: this.#componentIdx,
          });
          return;
        }
        if (this.#lockHolderTaskID === taskID) {
          throw new Error(`task [${taskID}] already holds the lock for component [${this.#componentIdx}]`);
        }
        _debugLog('[ComponentAsyncState#acquireExclusiveLock()] waiting', {
          holder: this.#lockHolderTaskID,
          requester: taskID,
          componentIdx: this.#componentIdx,
          queued: this.#lockWaiters.length,
        });
        return new Promise((resolve) => {
          this.#lockWaiters.push({ taskID, resolve });
        });
      }
      
      exclusiveRelease(taskID) {
        _debugLog('[ComponentAsyncState#exclusiveRelease()] args', {
          holder: this.#lockHolderTaskID,
          releaser: taskID,
          componentIdx: this.#componentIdx,
        });
        if (this.#lockHolderTaskID !== taskID) {
          // Ownerless releases were the historical behavior; a foreign
          // release now leaves the hold intact
          _debugLog('[ComponentAsyncState#exclusiveRelease()] ignoring foreign release', {
            holder: this.#lockHolderTaskID,
            releaser: taskID,
            componentIdx: this.#componentIdx,
          });
          return false;
        }
        
        // Make the release observable before handing the lock to the next
        // asynchronous guest slice.
        //
        // Release handlers may expose a lifted value whose consumer immediately
        // performs a synchronous call on the same component; that call must run
        // while the instance is genuinely unlocked, not via enterSync's
        // lock-free fallback code.
        this.#lockHolderTaskID = null;
        
        this.#onExclusiveReleaseHandlers = this.#onExclusiveReleaseHandlers.filter(v => !!v);
        for (const [idx, f] of this.#onExclusiveReleaseHandlers.entries()) {
          try {
            this.#onExclusiveReleaseHandlers[idx] = null;
            f();
          } catch (err) {
            _debugLog("error while executing handler for next exclusive release", err);
            throw err;
          }
        }
        this.#scheduleLockHandoff();
        return true;
      }
      
      #scheduleLockHandoff() {
        if (this.#lockHandoffScheduled || this.#lockWaiters.length === 0) { return; }
        this.#lockHandoffScheduled = true;
        queueMicrotask(() => {
          this.#lockHandoffScheduled = false;
          // A synchronous call triggered by a release handler gets the
          // first opportunity to use the unlocked component.
          //
          // Its release will leave this queued handoff in place.
          if (this.#lockHolderTaskID !== null) {
            this.#scheduleLockHandoff();
            return;
          }
          const next = this.#lockWaiters.shift();
          if (!next) { return; }
          this.#lockHolderTaskID = next.taskID;
          next.resolve();
        });
      }
      
      onNextExclusiveRelease(fn) {
        _debugLog('[ComponentAsyncState#()onNextExclusiveRelease] registering');
        this.#onExclusiveReleaseHandlers.push(fn);
      }
      
      async waitForExclusiveRelease() {
        while (this.isExclusivelyLocked()) {
          await new Promise(resolve => this.onNextExclusiveRelease(resolve));
        }
      }
      
      #getSuspendedTaskMeta(taskID) {
        return this.#suspendedTasksByTaskID.get(taskID);
      }
      
      #removeSuspendedTaskMeta(taskID) {
        _debugLog('[ComponentAsyncState#removeSuspendedTaskMeta()] removing suspended task', {
          taskID,
          componentIdx: this.#componentIdx,
        });
        const idx = this.#suspendedTaskIDs.findIndex(t => t === taskID);
        const meta = this.#suspendedTasksByTaskID.get(taskID);
        this.#suspendedTaskIDs[idx] = null;
        this.#suspendedTasksByTaskID.delete(taskID);
        return meta;
      }
      
      #addSuspendedTaskMeta(meta) {
        if (!meta) { throw new Error('missing task meta'); }
        const taskID = meta.taskID;
        this.#suspendedTasksByTaskID.set(taskID, meta);
        this.#suspendedTaskIDs.push(taskID);
        if (this.#suspendedTasksByTaskID.size < this.#suspendedTaskIDs.length - 10) {
          this.#suspendedTaskIDs = this.#suspendedTaskIDs.filter(t => t !== null);
        }
      }
      
      // TODO(threads): readyFn is normally on the thread
      suspendTask(args) {
        const { task, readyFn, cancellable, onResume } = args;
        const taskID = task.id();
        const componentIdx = task.componentIdx();
        _debugLog('[ComponentAsyncState#suspendTask()]', {
          taskID,
          componentIdx: this.#componentIdx,
          taskEntryFnName: task.entryFnName(),
          subtask: task.getParentSubtask(),
        });
        
        if (componentIdx !== this.#componentIdx) {
          throw new Error('assert: task component idx should match async state');
        }
        
        if (this.#getSuspendedTaskMeta(taskID)) {
          throw new Error(`task [${taskID}] already suspended`);
        }
        
        let promise;
        let resume;
        if (onResume) {
          resume = () => onResume(!task.isCancelled());
        } else {
          const resolvers = promiseWithResolvers();
          promise = resolvers.promise;
          resume = () => resolvers.resolve(!task.isCancelled());
        }
        this.#addSuspendedTaskMeta({
          task,
          taskID,
          cancellable,
          readyFn,
          resume: () => {
            _debugLog('[ComponentAsyncState] resuming suspended task', {
              taskID,
              componentIdx: this.#componentIdx,
            });
            // TODO(threads): it's thread cancellation we should be checking for below, not task
            resume();
          },
        });
        
        // A caller synchronously driving one task quantum (for
        // example, subtask.cancel) waits for the resumed task to
        // either resolve or suspend again.
        task.notifyProgress();
        
        this.runTickLoop();
        _checkForDeadlock();
        
        return promise;
      }
      
      resumeTaskByID(taskID) {
        const meta = this.#removeSuspendedTaskMeta(taskID);
        if (!meta) { return false; }
        if (meta.taskID !== taskID) { throw new Error('task ID does not match'); }
        meta.resume();
        return true;
      }
      
      suspendedTaskReady(taskID) {
        const meta = this.#getSuspendedTaskMeta(taskID);
        if (!meta) { return false; }
        if (!meta.readyFn) {
          throw new Error(`suspended task [${taskID}] is missing a readiness function`);
        }
        return meta.task.isRejected() || meta.readyFn();
      }
      
      suspendedTaskCancellable(taskID) {
        return !!this.#getSuspendedTaskMeta(taskID)?.cancellable;
      }
      
      isTaskSuspended(taskID) {
        return this.#suspendedTasksByTaskID.has(taskID);
      }
      
      suspendedTaskMetas() {
        return this.#suspendedTasksByTaskID.values();
      }
      
      addPendingTaskStart() { this.#pendingTaskStarts++; }
      removePendingTaskStart() { this.#pendingTaskStarts--; }
      
      hasPendingSchedulerWork() {
        if (this.#pendingTaskStarts > 0) { return true; }
        if (this.#lockHandoffScheduled) { return true; }
        for (const meta of this.#suspendedTasksByTaskID.values()) {
          if (meta.task.isRejected() || meta.readyFn()) { return true; }
        }
        return false;
      }
      
      async runTickLoop() {
        if (this.#tickLoop !== null) { return; }
        this.#tickLoop = 1;
        setTimeout(async () => {
          let result = this.tick();
          while (result !== ComponentAsyncState.TickResult.DONE) {
            if (result === ComponentAsyncState.TickResult.IDLE) {
              _checkForDeadlock();
            }
            // After resuming a task, re-tick as soon as the resumed
            // slice's microtask continuations have drained (timeout 0)
            // so queued sibling resumptions aren't charged the idle
            // polling interval; otherwise poll at the idle cadence.
            const delay = result === ComponentAsyncState.TickResult.RESUMED ? 0 : 10;
            await new Promise((resolve) => setTimeout(resolve, delay));
            result = this.tick();
          }
          this.#tickLoop = null;
        }, 10);
      }
      
      tick() {
        // _debugLog('[ComponentAsyncState#tick()]', { suspendedTaskIDs: this.#suspendedTaskIDs });
        
        const resumableTasks = this.#suspendedTaskIDs.filter(t => t !== null);
        for (const taskID of resumableTasks) {
          const meta = this.#suspendedTasksByTaskID.get(taskID);
          if (!meta || !meta.readyFn) {
            throw new Error(`missing/invalid task despite ID [${taskID}] being present`);
          }
          
          // If the task failed via any means, allow the task to resume because
          // it's been cancelled -- the callback should immediately exit as well
          if (meta.task.isRejected()) {
            _debugLog('[ComponentAsyncState#tick()] detected task rejection, leaving early', { meta });
            this.resumeTaskByID(taskID);
            return ComponentAsyncState.TickResult.RESUMED;
          }
          
          const isReady = meta.readyFn();
          if (!isReady) { continue; }
          
          _debugLog('[ComponentAsyncState#tick()] resuming task via tick', {
            taskID,
            componentIdx: this.#componentIdx,
          });
          this.resumeTaskByID(taskID);
          
          // NOTE: during single-flight resumption, we should resume at most one task per
          // tick so that the resumed slice (a microtask continuation)
          // runs -- and its current-task register window opens and
          // closes -- before any sibling task of this component is
          // resumed.
          //
          // Resuming multiple suspended tasks in one synchronous
          // cascade interleaves their register save/restore windows
          // ([restoreA, restoreB, resumeA, resumeB]), re-entering wasm
          // with the register naming the wrong task, and the
          // 'known residual' of the JSPI current-task register
          // fix); with concurrent task lifetimes per component this
          // corrupts guest context-local storage.
          return ComponentAsyncState.TickResult.RESUMED;
        }
        
        const idle = this.#suspendedTaskIDs.filter(t => t !== null).length > 0;
        return idle
        ? ComponentAsyncState.TickResult.IDLE
        : ComponentAsyncState.TickResult.DONE;
      }
      
      createWaitable(args) {
        return new Waitable({ target: args?.target, });
      }
    }
    
    function getOrCreateAsyncState(componentIdx, init) {
      if (!ASYNC_STATE.has(componentIdx)) {
        const newState = new ComponentAsyncState({ componentIdx });
        ASYNC_STATE.set(componentIdx, newState);
      }
      return ASYNC_STATE.get(componentIdx);
    }
    const GLOBAL_COMPONENT_MEMORY_MAP = new Map();
    
    function lookupMemoriesForComponent(args) {
      const { componentIdx } = args ?? {};
      if (args.componentIdx === undefined) { throw new TypeError("missing component idx"); }
      
      const metas = GLOBAL_COMPONENT_MEMORY_MAP.get(componentIdx);
      if (!metas) { return []; }
      
      if (args.memoryIdx === undefined) {
        return Object.values(metas);
      }
      
      const meta = metas[args.memoryIdx];
      return meta?.memory;
    }
    
    class AsyncSubtask {
      static _ID = 0n;
      
      static State = {
        STARTING: 0,
        STARTED: 1,
        RETURNED: 2,
        CANCELLED_BEFORE_STARTED: 3,
        CANCELLED_BEFORE_RETURNED: 4,
      };
      
      #id;
      #state = AsyncSubtask.State.STARTING;
      #componentIdx;
      
      #parentTask;
      #childTask = null;
      
      #dropped = false;
      #cancelRequested = false;
      
      #memoryIdx = null;
      #lenders = null;
      
      #waitable = null;
      
      #callbackFn = null;
      #callbackFnName = null;
      
      #postReturnFn = null;
      #onProgressFn = null;
      #pendingEventFn = null;
      
      #callMetadata = {};
      
      #resolved = false;
      
      #onResolveHandlers = [];
      #onStartHandlers = [];
      
      #result = null;
      #resultSet = false;
      
      fnName;
      target;
      isAsync;
      isManualAsync;
      // One execution slice awaited by the conditional cancel trampoline.
      cancelProgress = null;
      
      constructor(args) {
        if (typeof args.componentIdx !== 'number') {
          throw new Error('invalid componentIdx for subtask creation');
        }
        this.#componentIdx = args.componentIdx;
        
        this.#id = ++AsyncSubtask._ID;
        this.fnName = args.fnName;
        
        if (!args.parentTask) { throw new Error('missing parent task during subtask creation'); }
        this.#parentTask = args.parentTask;
        
        if (args.childTask) { this.#childTask = args.childTask; }
        
        if (args.memoryIdx) { this.#memoryIdx = args.memoryIdx; }
        
        if (!args.waitable) { throw new Error("missing/invalid waitable"); }
        this.#waitable = args.waitable;
        
        if (args.callMetadata) { this.#callMetadata = args.callMetadata; }
        
        this.#lenders = [];
        this.target = args.target;
        this.isAsync = args.isAsync;
        this.isManualAsync = args.isManualAsync;
      }
      
      id() { return this.#id; }
      parentTaskID() { return this.#parentTask?.id(); }
      childTaskID() { return this.#childTask?.id(); }
      state() { return this.#state; }
      
      waitable() { return this.#waitable; }
      waitableRep() { return this.#waitable.idx(); }
      
      join() { return this.#waitable.join(...arguments); }
      getPendingEvent() { return this.#waitable.getPendingEvent(...arguments); }
      hasPendingEvent() { return this.#waitable.hasPendingEvent(...arguments); }
      setPendingEvent() { return this.#waitable.setPendingEvent(...arguments); }
      
      setTarget(tgt) { this.target = tgt; }
      
      getResult() {
        if (!this.#resultSet) { throw new Error("subtask result has not been set") }
        return this.#result;
      }
      setResult(v) {
        if (this.#resultSet) { throw new Error("subtask result has already been set"); }
        this.#result = v;
        this.#resultSet = true;
      }
      
      componentIdx() { return this.#componentIdx; }
      
      setChildTask(t) {
        if (!t) { throw new Error('cannot set missing/invalid child task on subtask'); }
        if (this.#childTask) { throw new Error('child task is already set on subtask'); }
        if (this.#parentTask === t) { throw new Error("parent cannot be child"); }
        this.#childTask = t;
      }
      getChildTask(t) { return this.#childTask; }
      
      getParentTask() { return this.#parentTask; }
      
      setCallbackFn(f, name) {
        if (!f) { return; }
        if (this.#callbackFn) { throw new Error('callback fn can only be set once'); }
        this.#callbackFn = f;
        this.#callbackFnName = name;
      }
      
      getCallbackFnName() {
        if (!this.#callbackFn) { return undefined; }
        return this.#callbackFn.name;
      }
      
      setPostReturnFn(f) {
        if (!f) { return; }
        if (this.#postReturnFn) { throw new Error('postReturn fn can only be set once'); }
        this.#postReturnFn = f;
      }
      
      setOnProgressFn(f) {
        if (this.#onProgressFn) { throw new Error('on progress fn can only be set once'); }
        this.#onProgressFn = f;
      }
      
      isNotStarted() {
        return this.#state == AsyncSubtask.State.STARTING;
      }
      
      cancellationRequested() { return this.#cancelRequested; }
      
      // Request cooperative cancellation of this subtask, on behalf of the
      // supertask (i.e. `canon subtask.cancel`).
      //
      // If the callee is another guest task, the request is delivered to it and
      // the callee confirms via `task.cancel` (or still resolves via `task.return`).
      //
      // If the callee is a host function there is (currently) no host-side
      // cancellation hook, so the pending call is treated as immediately
      // cancelled -- consistent with hosts being expected to resolve
      // cancellation promptly -- and any later host resolution is discarded
      // (see `AsyncTask#onResolve`).
      requestCancellation() {
        _debugLog('[AsyncSubtask#requestCancellation()] args', {
          componentIdx: this.#componentIdx,
          subtaskID: this.#id,
          state: this.#state,
          childTaskID: this.childTaskID(),
          fnName: this.fnName,
        });
        if (this.#cancelRequested) {
          throw new Error('cancellation has already been requested for this subtask');
        }
        this.#cancelRequested = true;
        
        if (this.#resolved) { return; }
        
        if (this.#childTask) {
          this.#childTask.requestCancellation();
          return;
        }
        
        this.onResolve(null);
      }
      
      registerOnStartHandler(f) {
        this.#onStartHandlers.push(f);
      }
      
      onStart(args) {
        _debugLog('[AsyncSubtask#onStart()] args', {
          componentIdx: this.#componentIdx,
          subtaskID: this.#id,
          parentTaskID: this.parentTaskID(),
          fnName: this.fnName,
          args,
        });
        
        if (this.#onProgressFn) { this.#onProgressFn(); }
        
        // Starting a nested operation is a task execution boundary.
        // In particular, a cancellation handler may synchronously
        // enter an import which then suspends in the host.  Wake a
        // supertask that is driving one cancellation slice so an
        // async `subtask.cancel` can report BLOCKED without waiting
        // for that nested operation to finish.
        this.#parentTask.notifyProgress();
        
        this.#state = AsyncSubtask.State.STARTED;
        
        let result;
        
        // If we have been provided a helper start function as a result of
        // component fusion performed by wasmtime tooling, then we can call that helper and lifts/lowers will
        // be performed for us.
        //
        // See also documentation on `HostIntrinsic::PrepareCall`
        //
        if (this.#callMetadata.startFn) {
          result = this.#callMetadata.startFn.apply(null, args?.startFnParams ?? []);
        }
        
        return result;
      }
      
      
      registerOnResolveHandler(f) {
        this.#onResolveHandlers.push(f);
      }
      
      reject(subtaskErr) {
        if (this.#resolved) { return; }
        
        if (this.#onProgressFn) { this.#onProgressFn(); }
        
        if (this.#state === AsyncSubtask.State.STARTING) {
          this.#state = AsyncSubtask.State.CANCELLED_BEFORE_STARTED;
        } else if (this.#state === AsyncSubtask.State.STARTED) {
          this.#state = AsyncSubtask.State.CANCELLED_BEFORE_RETURNED;
        } else {
          throw new Error('cannot reject a completed subtask');
        }
        
        this.#resolved = true;
        this.#parentTask.removeSubtask(this);
        this.#parentTask.reject(subtaskErr);
      }
      
      onResolve(subtaskValue) {
        _debugLog('[AsyncSubtask#onResolve()] args', {
          componentIdx: this.#componentIdx,
          subtaskID: this.#id,
          isAsync: this.isAsync,
          childTaskID: this.childTaskID(),
          parentTaskID: this.parentTaskID(),
          parentTaskFnName: this.#parentTask?.entryFnName(),
          fnName: this.fnName,
        });
        
        if (this.#resolved) {
          throw new Error('subtask has already been resolved');
        }
        
        if (this.#onProgressFn) { this.#onProgressFn(); }
        
        if (subtaskValue === null && this.#cancelRequested) {
          if (this.#state === AsyncSubtask.State.STARTING) {
            this.#state = AsyncSubtask.State.CANCELLED_BEFORE_STARTED;
          } else {
            if (this.#state !== AsyncSubtask.State.STARTED) {
              throw new Error('resolved subtask must have been started before cancellation');
            }
            this.#state = AsyncSubtask.State.CANCELLED_BEFORE_RETURNED;
          }
        } else {
          if (this.#state !== AsyncSubtask.State.STARTED) {
            throw new Error('resolved subtask must have been started before completion');
          }
          this.#state = AsyncSubtask.State.RETURNED;
        }
        
        this.setResult(subtaskValue);
        
        for (const f of this.#onResolveHandlers) {
          try {
            f(subtaskValue);
          } catch (err) {
            console.error("error during subtask resolve handler", err);
            throw err;
          }
        }
        
        const callMetadata = this.getCallMetadata();
        
        // TODO(fix): we should be able to easily have the caller's meomry
        // to lower into here, but it's not present in PrepareCall
        const memory = callMetadata.memory ?? this.#parentTask?.getReturnMemory() ?? lookupMemoriesForComponent({ componentIdx: this.#parentTask?.componentIdx() })[0];
        // NOTE: cancelled resolutions carry no value, so nothing is lowered
        const returned = this.#state === AsyncSubtask.State.RETURNED;
        if (returned && callMetadata && !callMetadata.returnFn && (this.isAsync || callMetadata.funcTypeIsAsync) && callMetadata.resultPtr && memory) {
          const { resultPtr, realloc } = callMetadata;
          const lowers = callMetadata.lowers; // may have been updated in task.return of the child
          if (lowers && lowers.length > 0) {
            lowers[0]({
              componentIdx: this.#componentIdx,
              memory,
              realloc,
              vals: [subtaskValue],
              storagePtr: resultPtr,
              stringEncoding: callMetadata.stringEncoding,
            });
          }
        }
        
        this.#resolved = true;
        this.#parentTask.removeSubtask(this);
        
        if (!this.isAsync) {
          this.deliverResolve();
          const rep = this.waitableRep();
          if (rep) {
            try {
              const removed = this.#getComponentState().handles.remove(rep);
              if (removed !== this) {
                throw new Error("unexpectedly received non-self Subtask from handle removal");
              }
              this.drop();
            } catch (err) {
              _debugLog('[AsyncSubtask#onResolve()] failed to remove subtask after sync subtask completion', err);
            }
          }
        }
      }
      
      getStateNumber() { return this.#state; }
      isReturned() { return this.#state === AsyncSubtask.State.RETURNED; }
      
      getCallMetadata() { return this.#callMetadata; }
      
      isResolved() {
        if (this.#state === AsyncSubtask.State.STARTING
        || this.#state === AsyncSubtask.State.STARTED) {
          return false;
        }
        if (this.#state === AsyncSubtask.State.RETURNED
        || this.#state === AsyncSubtask.State.CANCELLED_BEFORE_STARTED
        || this.#state === AsyncSubtask.State.CANCELLED_BEFORE_RETURNED) {
          return true;
        }
        throw new Error('unrecognized internal Subtask state [' + this.#state + ']');
      }
      
      addLender(handle) {
        _debugLog('[AsyncSubtask#addLender()] args', { handle });
        if (!Number.isNumber(handle)) { throw new Error('missing/invalid lender handle [' + handle + ']'); }
        
        if (this.#lenders.length === 0 || this.isResolved()) {
          throw new Error('subtask has no lendors or has already been resolved');
        }
        
        handle.lends++;
        this.#lenders.push(handle);
      }
      
      deliverResolve() {
        _debugLog('[AsyncSubtask#deliverResolve()] args', {
          lenders: this.#lenders,
          parentTaskID: this.parentTaskID(),
          subtaskID: this.#id,
          childTaskID: this.childTaskID(),
          resolved: this.isResolved(),
          resolveDelivered: this.resolveDelivered(),
        });
        
        const cannotDeliverResolve = this.resolveDelivered() || !this.isResolved();
        if (cannotDeliverResolve) {
          throw new Error('subtask cannot deliver resolution twice, and the subtask must be resolved');
        }
        
        for (const lender of this.#lenders) {
          lender.lends--;
        }
        
        this.#lenders = null;
      }
      
      resolveDelivered() {
        _debugLog('[AsyncSubtask#resolveDelivered()] args', { });
        if (this.#lenders === null && !this.isResolved()) {
          throw new Error('invalid subtask state, lenders missing and subtask has not been resolved');
        }
        return this.#lenders === null;
      }
      
      drop() {
        _debugLog('[AsyncSubtask#drop()] args', {
          componentIdx: this.#componentIdx,
          parentTaskID: this.#parentTask?.id(),
          parentTaskFnName: this.#parentTask?.entryFnName(),
          childTaskID: this.#childTask?.id(),
          childTaskFnName: this.#childTask?.entryFnName(),
          subtaskFnName: this.fnName,
        });
        if (!this.#waitable) { throw new Error('missing/invalid inner waitable'); }
        if (!this.resolveDelivered()) {
          throw new Error('cannot drop a subtask which has not yet resolved');
        }
        if (this.#waitable) { this.#waitable.drop() }
        this.#dropped = true;
      }
      
      #getComponentState() {
        const state = getOrCreateAsyncState(this.#componentIdx);
        if (!state) {
          throw new Error('invalid/missing async state for component [' + componentIdx + ']');
        }
        return state;
      }
      
      getWaitableHandleIdx() {
        _debugLog('[AsyncSubtask#getWaitableHandleIdx()] args', { });
        if (!this.#waitable) { throw new Error('missing/invalid waitable'); }
        return this.waitableRep();
      }
    }
    
    class FutureValue {
      #start;
      #settled;
      #hideThen = 0;
      #thenFn;
      
      constructor(start) {
        if (typeof start !== 'function') {
          throw new TypeError('future start operation must be a function');
        }
        this.#start = start;
        this.#thenFn = this.#then.bind(this);
      }
      
      get then() {
        return this.#hideThen === 0 ? this.#thenFn : undefined;
      }
      
      #read() {
        if (!this.#settled) {
          // The start operation resolves to a non-thenable box so a
          // future-valued payload cannot be assimilated by this Promise.
          this.#settled = Promise.resolve().then(this.#start);
        }
        return this.#settled;
      }
      
      resolveAsValue(resolve) {
        this.#hideThen++;
        try {
          resolve(this);
        } finally {
          this.#hideThen--;
        }
      }
      
      #deliver(resolve, value) {
        if (value instanceof FutureValue) {
          // Promise resolution reads `then` synchronously. Hide it only
          // for that lookup so resolving this layer yields the inner
          // FutureValue instead of recursively awaiting it.
          value.resolveAsValue(resolve);
          return;
        }
        resolve(value);
      }
      
      #then(resolve, reject) {
        return this.#read().then(
        box => this.#deliver(resolve, box.value),
        reject,
        );
      }
    }
    const ASYNC_DETERMINISM = 'random';
    const _coinFlip = () => { return Math.random() > 0.5; };
    
    const ASYNC_EVENT_CODE = {
      NONE: 0,
      SUBTASK: 1,
      STREAM_READ: 2,
      STREAM_WRITE: 3,
      FUTURE_READ: 4,
      FUTURE_WRITE: 5,
      TASK_CANCELLED: 6,
    };
    const CURRENT_TASK_META = {};
    
    function _withGlobalCurrentTaskMeta(args) {
      _debugLog('[_withGlobalCurrentTaskMeta()] args', args);
      if (!args) { throw new TypeError('args missing'); }
      if (args.taskID === undefined) { throw new TypeError('missing task ID'); }
      if (args.componentIdx === undefined) { throw new TypeError('missing component idx'); }
      if (!args.fn) { throw new TypeError('missing fn'); }
      const { taskID, componentIdx, fn } = args;
      const previous = CURRENT_TASK_META[componentIdx] ?? null;
      const previousCurrent = CURRENT_TASK_META.current ?? null;
      
      try {
        CURRENT_TASK_META.current =
        CURRENT_TASK_META[componentIdx] = { taskID, componentIdx };
        return fn();
      } catch (err) {
        _debugLog("error while executing sync callee/callback", {
          ...args,
          err,
        });
        throw err;
      } finally {
        // Synchronous wrappers can nest without any intervening JS
        // scheduling. Restore the caller rather than clearing it so
        // helper core exports (for example fused return adapters) can
        // temporarily run under a different task of the same component.
        CURRENT_TASK_META[componentIdx] = previous;
        CURRENT_TASK_META.current = previousCurrent;
      }
    }
    
    async function _withGlobalCurrentTaskMetaAsync(args) {
      _debugLog('[_withGlobalCurrentTaskMetaAsync()] args', args);
      if (!args) { throw new TypeError('args missing'); }
      if (args.taskID === undefined) { throw new TypeError('missing task ID'); }
      if (args.componentIdx === undefined) { throw new TypeError('missing component idx'); }
      if (!args.fn) { throw new TypeError('missing fn'); }
      
      const { taskID, componentIdx, fn } = args;
      
      try {
        CURRENT_TASK_META.current =
        CURRENT_TASK_META[componentIdx] = { taskID, componentIdx };
        return await fn();
      } catch (err) {
        _debugLog("error while executing async callee/callback", {
          ...args,
          err,
        });
        throw err;
      } finally {
        CURRENT_TASK_META[componentIdx] = null;
        if (CURRENT_TASK_META.current?.taskID === taskID) {
          CURRENT_TASK_META.current = null;
        }
      }
    }
    
    class AsyncTask {
      static _ID = 0n;
      
      static State = {
        INITIAL: 'initial',
        CANCELLED: 'cancelled',
        CANCEL_PENDING: 'cancel-pending',
        CANCEL_DELIVERED: 'cancel-delivered',
        RESOLVED: 'resolved',
      }
      
      static BlockResult = {
        CANCELLED: 'block.cancelled',
        NOT_CANCELLED: 'block.not-cancelled',
      }
      
      #id;
      #componentIdx;
      #state;
      #isAsync;
      #isManualAsync;
      #callingWasmExport = true;
      #lockFreeEntry = false;
      #preserveFutureResult;
      #entryFnName = null;
      
      #onResolveHandlers = [];
      #progressWaiters = [];
      #completionPromise = null;
      #completionValue;
      #completionReady = false;
      #settleCompletionPromise;
      #rejected = false;
      
      #exitPromise = null;
      #onExitHandlers = [];
      
      #memoryIdx = null;
      #memory = null;
      
      #callbackFn = null;
      #callbackFnName = null;
      
      #postReturnFn = null;
      
      #getCalleeParamsFn = null;
      #calleeIsAsync = null;
      
      #stringEncoding = null;
      
      #parentSubtask = null;
      
      #errHandling;
      
      #backpressurePromise;
      #backpressureWaiters = 0n;
      
      #returnLowerFns = null;
      
      #resourceScopeId;
      #resourceBorrowCount = 0;
      #resourceLenders = [];
      #resourceScopeExited = false;
      
      #subtasks = [];
      
      #entered = false;
      #exited = false;
      #errored = null;
      
      cancelled = false;
      cancelRequested = false;
      alwaysTaskReturn = false;
      
      returnCalls =  0;
      storage = [0, 0];
      tmpRetI64HighBits = 0|0;
      
      constructor(opts) {
        this.#id = ++AsyncTask._ID;
        this.#resourceScopeId = ++RESOURCE_SCOPE_ID;
        RESOURCE_SCOPE_TASKS.set(this.#resourceScopeId, this);
        
        if (opts?.componentIdx === undefined) {
          throw new TypeError('missing component id during task creation');
        }
        this.#componentIdx = opts.componentIdx;
        
        this.#state = AsyncTask.State.INITIAL;
        this.#isAsync = opts?.isAsync ?? false;
        this.#isManualAsync = opts?.isManualAsync ?? false;
        this.#preserveFutureResult = opts?.preserveFutureResult ?? false;
        this.#entryFnName = opts.entryFnName;
        // Tasks that execute guest slices (export calls, fused
        // callees) default to true; import-handler tasks pass false
        // explicitly (they run host code nested inside the caller's
        // already-locked slice).
        this.#callingWasmExport = opts?.callingWasmExport !== false;
        
        const {
          promise: completionPromise,
          resolve: resolveCompletionPromise,
          reject: rejectCompletionPromise,
        } = promiseWithResolvers();
        this.#completionPromise = completionPromise;
        // A nested rejection can reach the root task while its Wasm
        // entrypoint is still suspended, before the export wrapper awaits
        // this promise. Mark it handled immediately while preserving the
        // original rejected promise for the eventual caller.
        completionPromise.catch(() => {});
        
        let completionSettled = false;
        const settleCompletionPromise = () => {
          if (completionSettled || !this.#completionReady) { return; }
          completionSettled = true;
          if (this.#errored !== null) {
            rejectCompletionPromise(this.#errored);
          } else if (this.#rejected) {
            rejectCompletionPromise(this.#completionValue);
          } else if (
          this.#preserveFutureResult
          && this.#completionValue instanceof FutureValue
          ) {
            this.#completionValue.resolveAsValue(resolveCompletionPromise);
          } else {
            resolveCompletionPromise(this.#completionValue);
          }
        };
        
        this.#settleCompletionPromise = settleCompletionPromise;
        this.#onResolveHandlers.push((results) => {
          if (this.#parentSubtask !== null) { return; }
          if (!this.#isAsync && !this.#isManualAsync) { return; }
          this.#completionValue = results;
          this.#completionReady = true;
          // Publish after the current guest slice returns, so a trap
          // in that slice can still reject the call. Do not wait for
          // task exit: detached work may require further host calls
          // or consumption of a returned resource's stream.
        });
        
        const {
          promise: exitPromise,
          resolve: resolveExitPromise,
          reject: rejectExitPromise,
        } = promiseWithResolvers();
        this.#exitPromise = exitPromise;
        
        this.#onExitHandlers.push(() => {
          if (this.#parentSubtask === null && (this.#isAsync || this.#isManualAsync)) {
            settleCompletionPromise();
          }
          resolveExitPromise();
        });
        
        if (opts.callbackFn) { this.#callbackFn = opts.callbackFn; }
        if (opts.callbackFnName) { this.#callbackFnName = opts.callbackFnName; }
        
        if (opts.getCalleeParamsFn) { this.#getCalleeParamsFn = opts.getCalleeParamsFn; }
        if (opts.stringEncoding) { this.#stringEncoding = opts.stringEncoding; }
        
        if (opts.parentSubtask) { this.#parentSubtask = opts.parentSubtask; }
        
        
        if (opts.errHandling) { this.#errHandling = opts.errHandling; }
      }
      
      taskState() { return this.#state; }
      id() { return this.#id; }
      componentIdx() { return this.#componentIdx; }
      entryFnName() { return this.#entryFnName; }
      
      resourceScopeId() { return this.#resourceScopeId; }
      
      addBorrowedHandle() {
        if (this.#resourceScopeExited) {
          throw new Error('cannot add a borrow to an exited resource scope');
        }
        this.#resourceBorrowCount++;
      }
      
      removeBorrowedHandle() {
        if (this.#resourceBorrowCount === 0) {
          throw new Error('resource borrow count underflow');
        }
        this.#resourceBorrowCount--;
      }
      
      addResourceLender(table, handle) {
        if (this.#resourceScopeExited) {
          throw new Error('cannot add a lender to an exited resource scope');
        }
        this.#resourceLenders.push({ table, handle });
      }
      
      validateResourceBorrowScope() {
        if (this.#resourceScopeExited) { return; }
        if (this.#resourceBorrowCount !== 0) {
          throw new WebAssemblyRuntimeError('borrow handles still remain at the end of the call');
        }
        for (const { table, handle } of this.#resourceLenders) {
          const idx = handle << 1;
          const lendCount = table[idx];
          if (!Number.isInteger(lendCount) || lendCount <= 0 || lendCount >= 2**30) {
            throw new Error('invalid resource lender state at scope exit');
          }
          table[idx] = lendCount - 1;
        }
        this.#resourceLenders = [];
        this.#resourceScopeExited = true;
        RESOURCE_SCOPE_TASKS.delete(this.#resourceScopeId);
      }
      
      completionPromise() { return this.#completionPromise; }
      settleCompletion() { this.#settleCompletionPromise(); }
      exitPromise() { return this.#exitPromise; }
      
      waitForProgress() {
        const { promise, resolve } = promiseWithResolvers();
        this.#progressWaiters.push(resolve);
        return promise;
      }
      
      notifyProgress() {
        const waiters = this.#progressWaiters;
        this.#progressWaiters = [];
        for (const resolve of waiters) { resolve(); }
      }
      
      isAsync() { return this.#isAsync; }
      isManualAsync() { return this.#isManualAsync; }
      isSync() { return !this.isAsync(); }
      
      getErrHandling() { return this.#errHandling; }
      
      hasCallback() { return this.#callbackFn !== null; }
      
      getReturnMemoryIdx() { return this.#memoryIdx; }
      setReturnMemoryIdx(idx) {
        if (idx === null) { return; }
        this.#memoryIdx = idx;
      }
      
      getReturnMemory() { return this.#memory; }
      setReturnMemory(m) {
        if (m === null) { return; }
        this.#memory = m;
      }
      
      setReturnLowerFns(fns) { this.#returnLowerFns = fns; }
      getReturnLowerFns() { return this.#returnLowerFns; }
      
      setCalleeIsAsync(value) {
        if (typeof value !== 'boolean') { throw new TypeError('callee async state must be a boolean'); }
        this.#calleeIsAsync = value;
      }
      
      setParentSubtask(subtask) {
        if (!subtask || !(subtask instanceof AsyncSubtask)) { return }
        if (this.#parentSubtask) { throw new Error('parent subtask can only be set once'); }
        this.#parentSubtask = subtask;
      }
      
      getParentSubtask() { return this.#parentSubtask; }
      
      // TODO(threads): this is very inefficient, we can pass along a root task,
      // and ideally do not need this once thread support is in place
      getRootTask() {
        let currentSubtask = this.getParentSubtask();
        let task = this;
        while (currentSubtask) {
          task = currentSubtask.getParentTask();
          currentSubtask = task.getParentSubtask();
        }
        return task;
      }
      
      setPostReturnFn(f) {
        if (!f) { return; }
        if (this.#postReturnFn) { throw new Error('postReturn fn can only be set once'); }
        this.#postReturnFn = f;
      }
      
      setCallbackFn(f, name) {
        if (!f) { return; }
        if (this.#callbackFn) { throw new Error('callback fn can only be set once'); }
        this.#callbackFn = f;
        this.#callbackFnName = name;
      }
      
      getCallbackFnName() {
        if (!this.#callbackFnName) { return undefined; }
        return this.#callbackFnName;
      }
      
      runCallbackFn(...args) {
        if (!this.#callbackFn) { throw new Error('no callback function has been set for task'); }
        if (this.#callbackFn._jcoMaySuspend === false) {
          return _withGlobalCurrentTaskMeta({
            taskID: this.#id,
            componentIdx: this.#componentIdx,
            fn: () => this.#callbackFn.apply(null, args),
          });
        }
        return _withGlobalCurrentTaskMetaAsync({
          taskID: this.#id,
          componentIdx: this.#componentIdx,
          fn: () => { return this.#callbackFn.apply(null, args); }
        });
      }
      
      getCalleeParams() {
        if (!this.#getCalleeParamsFn) { throw new Error('missing/invalid getCalleeParamsFn'); }
        return this.#getCalleeParamsFn();
      }
      
      // Legacy manually-async exports are sync-typed in the component
      // but use JSPI precisely so their guest stack may suspend.
      mayBlock() { return this.isAsync() || this.isManualAsync() || this.isResolvedState() }
      
      mayEnter(task) {
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        if (cstate.hasBackpressure()) {
          _debugLog('[AsyncTask#mayEnter()] disallowed due to backpressure', { taskID: this.#id });
          return false;
        }
        if (!cstate.callingSyncImport()) {
          _debugLog('[AsyncTask#mayEnter()] disallowed due to sync import call', { taskID: this.#id });
          return false;
        }
        const callingSyncExportWithSyncPending = cstate.callingSyncExport && !task.isAsync;
        if (!callingSyncExportWithSyncPending) {
          _debugLog('[AsyncTask#mayEnter()] disallowed due to sync export w/ sync pending', { taskID: this.#id });
          return false;
        }
        return true;
      }
      
      enterSync() {
        if (this.needsExclusiveLock()) {
          const cstate = getOrCreateAsyncState(this.#componentIdx);
          if (!cstate.isExclusivelyLocked()) {
            cstate.exclusiveLock(this.#id);
          } else {
            // A host-called sync export arriving while another
            // task's slice holds the lock: synchronous entry
            // cannot wait, and historically this entry silently
            // stole the hold. Run without the lock instead --
            // the holder's bookkeeping stays intact and its
            // release still pairs
            this.#lockFreeEntry = true;
            _debugLog('[AsyncTask#enterSync()] entering without exclusive lock', {
              taskID: this.#id,
              componentIdx: this.#componentIdx,
            });
          }
        }
        return true;
      }
      
      tryEnter() {
        if (this.#entered) {
          throw new Error(`task with ID [${this.#id}] should not be entered twice`);
        }
        
        if (this.deliverPendingCancel({ cancellable: true })) {
          this.cancel();
          return false;
        }
        
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        if (this.isSync()) {
          this.#entered = true;
          return true;
        }
        if (cstate.hasBackpressure()) { return null; }
        if (this.needsExclusiveLock()) {
          if (cstate.isExclusivelyLocked()) { return null; }
          cstate.exclusiveLock(this.#id);
        }
        
        if (this.deliverPendingCancel({ cancellable: true })) {
          cstate.exclusiveRelease(this.#id);
          this.cancel();
          return false;
        }
        
        this.#entered = true;
        return true;
      }
      
      async enter(opts) {
        _debugLog('[AsyncTask#enter()] args', {
          taskID: this.#id,
          componentIdx: this.#componentIdx,
          subtaskID: this.getParentSubtask()?.id(),
          args: opts,
          entryFnName: this.#entryFnName,
        });
        
        if (this.#entered) {
          throw new Error(`task with ID [${this.#id}] should not be entered twice`);
        }
        
        // If cancellation was requested before the task was entered, resolve
        // as cancelled without ever running guest code
        if (this.deliverPendingCancel({ cancellable: true })) {
          this.cancel();
          return false;
        }
        
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        
        if (opts?.isHost) {
          this.#entered = true;
          // A guest task may be synchronously blocked in this
          // host entry. Propagate that boundary so an async
          // cancellation driver can yield BLOCKED while the host
          // operation is outstanding.
          const parentTask = this.#parentSubtask?.getParentTask();
          if (
          parentTask?.taskState() === AsyncTask.State.CANCEL_DELIVERED
          || (parentTask && !parentTask.hasCallback())
          ) {
            parentTask.notifyProgress();
          }
          return this.#entered;
        }
        
        // NOTE: concurrent task lifetimes within one component instance are
        // permitted by the Component Model: entry is governed by the
        // backpressure and exclusive-lock checks below (the lock is held per
        // execution slice, not for the task's lifetime).
        //
        // Serializing entire task lifetimes here (the former "execution slot" queue)
        // deadlocks pipelines where a parked long-lived task's progress depends on a
        // later entry into the same component.
        
        // If a task is synchronous then we can avoid component-relevant
        // tracking and immediately enter.
        if (this.isSync()) {
          this.#entered = true;
          
          // TODO(breaking): remove once manually-specifying async fns is removed
          // It is currently possible for an actually sync export to be specified
          // as async via JSPI
          if (this.#isManualAsync) {
            if (this.needsExclusiveLock()) { await cstate.acquireExclusiveLock(this.#id); }
          }
          
          return this.#entered;
        }
        
        // Perform intial backpressure check
        if (cstate.hasBackpressure()) {
          cstate.addBackpressureWaiter();
          
          const result = await this.waitUntil({
            readyFn: () => {
              return !cstate.hasBackpressure();
            },
            cancellable: true,
          });
          
          cstate.removeBackpressureWaiter();
          
          if (!result || this.isCancelled()) {
            if (!this.isResolvedState()) { this.cancel(); }
            return false;
          }
        }
        
        // Acquire the per-slice exclusive lock (FIFO-queued when
        // contended); the first slice runs under this hold and the
        // driver loop releases/re-acquires it per slice thereafter.
        if (this.needsExclusiveLock()) {
          await cstate.acquireExclusiveLock(this.#id);
        }
        
        // Cancellation-before-start may resolve this task while its
        // queued lock acquisition is still pending. Acquiring the lock
        // does not make the already-resolved task runnable again.
        if (this.isResolvedState() || this.isCancelled()) {
          cstate.exclusiveRelease(this.#id);
          return false;
        }
        
        // Cancellation can be requested while entry is waiting for
        // backpressure or its exclusive lock. Do not execute the guest
        // after acquiring a lock for a task that should no longer start.
        if (this.deliverPendingCancel({ cancellable: true })) {
          cstate.exclusiveRelease(this.#id);
          this.cancel();
          return false;
        }
        
        this.#entered = true;
        return this.#entered;
      }
      
      isRunningState() { return this.#state !== AsyncTask.State.RESOLVED; }
      isResolvedState() { return this.#state === AsyncTask.State.RESOLVED; }
      isResolved() { return this.#state === AsyncTask.State.RESOLVED; }
      isExited() { return this.#exited; }
      
      async waitUntil(opts) {
        const { readyFn, cancellable } = opts;
        _debugLog('[AsyncTask#waitUntil()] args', { taskID: this.#id, args: { cancellable } });
        
        // TODO(fix): check for cancel
        // TODO(fix): determinism
        // TODO(threads): add this thread to waiting list
        
        const keepGoing = await this.suspendUntil({
          readyFn,
          cancellable,
        });
        
        return keepGoing;
      }
      
      async yieldUntil(opts) {
        const { readyFn, cancellable } = opts;
        _debugLog('[AsyncTask#yieldUntil()]', {
          taskID: this.#id,
          args: {
            cancellable,
          },
          componentIdx: this.#componentIdx,
        });
        
        // A callback YIELD is an explicit request to let other work run.
        // Unlike waits whose condition is already ready, it must always
        // suspend for at least one scheduler turn.
        const keepGoing = await this.immediateSuspend({ readyFn, cancellable });
        if (keepGoing) {
          return {
            code: ASYNC_EVENT_CODE.NONE,
            payload0: 0,
            payload1: 0,
          };
        }
        
        return {
          code: ASYNC_EVENT_CODE.TASK_CANCELLED,
          payload0: 0,
          payload1: 0,
        };
      }
      
      async suspendUntil(opts) {
        const { cancellable, readyFn } = opts;
        _debugLog('[AsyncTask#suspendUntil()] args', {
          taskID: this.#id,
          args: {
            cancellable,
          },
          componentIdx: this.#componentIdx,
        });
        
        const pendingCancelled = this.deliverPendingCancel({ cancellable });
        if (pendingCancelled) { return false; }
        
        const completed = await this.immediateSuspendUntil({ readyFn, cancellable });
        return completed;
      }
      
      suspendUntilCallback(opts, onResume) {
        const { cancellable, readyFn } = opts;
        if (this.deliverPendingCancel({ cancellable })) {
          onResume(false);
          return;
        }
        
        const cstate = getOrCreateAsyncState(this.#componentIdx);
        cstate.suspendTask({
          task: this,
          cancellable,
          readyFn: () => {
            if (cancellable && this.#state === AsyncTask.State.CANCEL_PENDING) {
              return true;
            }
            return readyFn();
          },
          onResume: (keepGoing) => {
            if (keepGoing && this.deliverPendingCancel({ cancellable })) {
              keepGoing = false;
            }
            onResume(keepGoing);
          },
        });
      }
      
      // TODO(threads): equivalent to thread.suspend_until()
      async immediateSuspendUntil(opts) {
        const { cancellable, readyFn } = opts;
        _debugLog('[AsyncTask#immediateSuspendUntil()] args', {
          args: {
            cancellable,
            readyFn,
          },
          taskID: this.#id,
          componentIdx: this.#componentIdx,
        });
        
        const ready = readyFn();
        if (ready && ASYNC_DETERMINISM === 'random') {
          const coinFlip = _coinFlip();
          if (coinFlip) { return true }
        }
        
        const keepGoing = await this.immediateSuspend({ cancellable, readyFn });
        return keepGoing;
      }
      
      async immediateSuspend(opts) { // NOTE: equivalent to thread.suspend()
      // TODO(threads): store readyFn on the thread
      const { cancellable, readyFn } = opts;
      _debugLog('[AsyncTask#immediateSuspend()] args', { cancellable, readyFn });
      
      const pendingCancelled = this.deliverPendingCancel({ cancellable });
      if (pendingCancelled) { return false; }
      
      const cstate = getOrCreateAsyncState(this.#componentIdx);
      const keepGoing = await cstate.suspendTask({
        task: this,
        cancellable,
        readyFn: () => {
          // A pending cancellation request wakes cancellable waits
          if (cancellable && this.#state === AsyncTask.State.CANCEL_PENDING) {
            return true;
          }
          return readyFn();
        },
      });
      if (keepGoing && this.deliverPendingCancel({ cancellable })) { return false; }
      return keepGoing;
    }
    
    deliverPendingCancel(opts) {
      const { cancellable } = opts;
      _debugLog('[AsyncTask#deliverPendingCancel()]', {
        args: { cancellable },
        taskID: this.#id,
        componentIdx: this.#componentIdx,
      });
      
      if (cancellable && this.#state === AsyncTask.State.CANCEL_PENDING) {
        this.#state = AsyncTask.State.CANCEL_DELIVERED;
        return true;
      }
      
      return false;
    }
    
    isCancelled() { return this.cancelled }
    cancellationRequested() { return this.cancelRequested; }
    
    // Request cooperative cancellation of this task, called on behalf of a
    // supertask performing `subtask.cancel` on the subtask this task backs.
    //
    // The request is delivered at this task's next cancellable wait
    // (see suspendUntil/immediateSuspend), at which point the task is
    // expected to acknowledge via `task.cancel` or still resolve via
    // `task.return`.
    requestCancellation() {
      _debugLog('[AsyncTask#requestCancellation()] args', {
        taskID: this.#id,
        componentIdx: this.#componentIdx,
        state: this.#state,
      });
      if (this.isResolvedState() || this.cancelRequested) { return; }
      this.cancelRequested = true;
      if (this.#state === AsyncTask.State.INITIAL) {
        this.#state = AsyncTask.State.CANCEL_PENDING;
      }
      // Nudge the component's tick loop so that any suspended cancellable
      // wait observes the pending cancellation promptly
      getOrCreateAsyncState(this.#componentIdx).runTickLoop();
    }
    
    cancel(args) {
      _debugLog('[AsyncTask#cancel()] args', { });
      if (this.taskState() !== AsyncTask.State.CANCEL_DELIVERED) {
        throw new Error(`(component [${this.#componentIdx}]) task [${this.#id}] invalid task state [${this.taskState()}] for cancellation`);
      }
      this.validateResourceBorrowScope();
      this.cancelled = true;
      // Cancelled tasks resolve with no value (spec: `Task.cancel` calls
      // `on_resolve(None)`); an explicit error is only present on the
      // host-driven rejection path (see `reject()`).
      this.onResolve(args?.error ?? null);
      this.#state = AsyncTask.State.RESOLVED;
      // A task cancelled before entry has no driver loop that can
      // report its exit. Entered tasks notify after releasing their
      // component slice in `exit()`.
      if (!this.#entered) { this.notifyProgress(); }
    }
    
    onResolve(taskValue) {
      const handlers = this.#onResolveHandlers;
      this.#onResolveHandlers = [];
      for (const f of handlers) {
        try {
          f(taskValue);
        } catch (err) {
          _debugLog("[AsyncTask#onResolve] error during task resolve handler", err);
          throw err;
        }
      }
      
      // Rejections are control-flow failures, not canonical ABI results.
      // Propagate them through the subtask chain without running return
      // lowering or post-return hooks for a successful result.
      if (this.#rejected) {
        this.#parentSubtask?.reject(taskValue);
        return;
      }
      
      // NOTE: if the parent subtask has already been resolved (e.g. it was
      // cancelled via `subtask.cancel` while this task was still pending),
      // this task's resolution must be discarded rather than delivered.
      const parentSubtaskPending = this.#parentSubtask && !this.#parentSubtask.isResolved();
      const taskReturned = !this.isCancelled();
      
      if (parentSubtaskPending && taskReturned) {
        const meta = this.#parentSubtask.getCallMetadata();
        // Run the rturn fn if it has not already been called -- this *should* have happened in
        // `task.return`, but some paths do not go through task.return (e.g. async lower of sync fn
        // which goes through prepare + async-start-call)
        if (meta.returnFn && !meta.returnFnCalled) {
          _debugLog('[AsyncTask#onResolve()] running returnFn', {
            componentIdx: this.#componentIdx,
            taskID: this.#id,
            subtaskID: this.#parentSubtask.id(),
          });
          const callerTask = this.#parentSubtask.getParentTask();
          _withGlobalCurrentTaskMeta({
            taskID: callerTask.id(),
            componentIdx: callerTask.componentIdx(),
            fn: () => meta.returnFn.apply(null, [taskValue, meta.resultPtr]),
          });
          meta.returnFnCalled = true;
        }
      }
      
      if (this.#postReturnFn && taskReturned) {
        _debugLog('[AsyncTask#onResolve()] running post return ', {
          componentIdx: this.#componentIdx,
          taskID: this.#id,
        });
        try {
          _withGlobalCurrentTaskMeta({
            taskID: this.#id,
            componentIdx: this.#componentIdx,
            fn: () => this.#postReturnFn(taskValue),
          });
        } catch (err) {
          _debugLog("[AsyncTask#onResolve] error during task resolve handler", err);
          throw err;
        }
      }
      
      if (parentSubtaskPending) {
        this.#parentSubtask.onResolve(taskValue);
      }
    }
    
    registerOnResolveHandler(f) {
      this.#onResolveHandlers.push(f);
    }
    
    isRejected() { return this.#rejected; }
    
    isErrored() { return this.#errored; }
    setErrored(err) {
      // Preserve the originating trap when unwinding through
      // additional guest frames produces secondary traps (often
      // an `unreachable` after a call which was expected to trap).
      if (this.#errored === null) { this.#errored = err; }
    }
    
    reject(taskErr) {
      _debugLog('[AsyncTask#reject()] args', {
        componentIdx: this.#componentIdx,
        taskID: this.#id,
        parentSubtask: this.#parentSubtask,
        parentSubtaskID: this.#parentSubtask?.id(),
        entryFnName: this.entryFnName(),
        callbackFnName: this.#callbackFnName,
        errMsg: taskErr.message,
      });
      
      this.setErrored(taskErr);
      if (this.#rejected) { return; }
      
      // A task may call `task.return` before its callback exits.
      // A trap in cleanup or spawned work must still reject the
      // host call and poison the enclosing task chain.
      if (this.isResolvedState()) {
        this.#rejected = true;
        this.#errored = taskErr;
        const parentTask = this.#parentSubtask?.getParentTask();
        if (parentTask) { parentTask.reject(taskErr); }
        return;
      }
      
      this.#rejected = true;
      this.cancelRequested = true;
      this.#state = AsyncTask.State.CANCEL_PENDING;
      const cancelled = this.deliverPendingCancel({ cancellable: true });
      
      // TODO: do cleanup here to reset the machinery so we can run again?
      
      this.cancel({ error: taskErr });
    }
    
    resolve(results) {
      _debugLog('[AsyncTask#resolve()] args', {
        componentIdx: this.#componentIdx,
        taskID: this.#id,
        entryFnName: this.entryFnName(),
        callbackFnName: this.#callbackFnName,
      });
      
      if (this.#state === AsyncTask.State.RESOLVED) {
        throw new Error(`(component [${this.#componentIdx}]) task [${this.#id}]  is already resolved (did you forget to wait for an import?)`);
      }
      
      this.validateResourceBorrowScope();
      
      this.#state = AsyncTask.State.RESOLVED;
      
      switch (results.length) {
        case 0:
        this.onResolve(undefined);
        break;
        case 1:
        this.onResolve(results[0]);
        break;
        default:
        _debugLog('[AsyncTask#resolve()] unexpected number of results', {
          componentIdx: this.#componentIdx,
          results,
          taskID: this.#id,
          subtaskID: this.#parentSubtask?.id(),
          entryFnName: this.#entryFnName,
          callbackFnName: this.#callbackFnName,
        });
        throw new Error('unexpected number of results');
      }
    }
    
    exit(args) {
      _debugLog('[AsyncTask#exit()]', {
        componentIdx: this.#componentIdx,
        taskID: this.#id,
      });
      
      if (this.#exited)  { throw new Error("task has already exited"); }
      
      if (this.#state !== AsyncTask.State.RESOLVED) {
        throw new Error(`(component [${this.#componentIdx}]) task [${this.#id}] exited without resolution`);
      }
      
      this.validateResourceBorrowScope();
      
      const state = getOrCreateAsyncState(this.#componentIdx);
      if (!state) { throw new Error('missing async state for component [' + this.#componentIdx + ']'); }
      
      // Exempt the host from exclusive lock check
      if (this.#componentIdx !== -1 && !args?.skipExclusiveLockCheck && !this.#lockFreeEntry) {
        if (this.needsExclusiveLock() && !state.exclusivelyLockedBy(this.#id)) {
          throw new Error(`task [${this.#id}] exit: component [${this.#componentIdx}] should have been exclusively locked by it`);
        }
      }
      
      // Ownership-checked: releases only this task's own hold (a
      // task exiting while another task's slice holds the lock no
      // longer clears the foreign hold).
      state.exclusiveRelease(this.#id);
      this.notifyProgress();
      
      for (const f of this.#onExitHandlers) {
        try {
          f();
        } catch (err) {
          console.error("error during task exit handler", err);
          throw err;
        }
      }
      
      this.#exited = true;
      clearCurrentTask(this.#componentIdx, this.id());
    }
    
    needsExclusiveLock() {
      // Host (-1) tasks model host-side import handling: there is no
      // guest linear memory or executor state to protect, and host
      // calls from unrelated guest components would contend spuriously.
      if (this.#componentIdx === -1) { return false; }
      // Import-handler tasks (CallInterface) run host code nested
      // inside the calling guest slice, which already holds the
      // lock; only tasks that execute guest slices need it.
      if (!this.#callingWasmExport) { return false; }
      // A sync-lifted callee cannot be reentered until the whole
      // stackful call returns. This is the Component Model's
      // automatic-backpressure rule for async-lowered calls.
      return !this.#isAsync || this.hasCallback() || this.#calleeIsAsync === false;
    }
    
    createSubtask(args) {
      _debugLog('[AsyncTask#createSubtask()] args', args);
      const { componentIdx, childTask, callMetadata, fnName, isAsync, isManualAsync } = args;
      
      const cstate = getOrCreateAsyncState(this.#componentIdx);
      if (!cstate) {
        throw new Error(`invalid/missing async state for component idx [${componentIdx}]`);
      }
      
      const waitable = new Waitable({
        componentIdx: this.#componentIdx,
        target: `subtask (internal ID [${this.#id}])`,
      });
      
      const newSubtask = new AsyncSubtask({
        componentIdx,
        childTask,
        parentTask: this,
        callMetadata,
        isAsync,
        isManualAsync,
        fnName,
        waitable,
      });
      this.#subtasks.push(newSubtask);
      newSubtask.setTarget(`subtask (internal ID [${newSubtask.id()}], waitable [${waitable.idx()}], component [${componentIdx}])`);
      waitable.setIdx(cstate.handles.insert(newSubtask));
      waitable.setTarget(`waitable for subtask (waitable id [${waitable.idx()}], subtask internal ID [${newSubtask.id()}])`);
      return newSubtask;
    }
    
    getLatestSubtask() {
      return this.#subtasks.at(-1);
    }
    
    getSubtaskByWaitableRep(rep) {
      if (rep === undefined) { throw new TypeError('missing rep'); }
      return this.#subtasks.find(s => s.waitableRep() === rep);
    }
    
    currentSubtask() {
      _debugLog('[AsyncTask#currentSubtask()]');
      if (this.#subtasks.length === 0) { return undefined; }
      return this.#subtasks.at(-1);
    }
    
    removeSubtask(subtask) {
      if (this.#subtasks.length === 0) {
        throw new Error('cannot end current subtask: no current subtask');
      }
      this.#subtasks = this.#subtasks.filter(t => t !== subtask);
      return subtask;
    }
  }
  
  function createNewCurrentTask(args) {
    _debugLog('[createNewCurrentTask()] args', args);
    const {
      componentIdx,
      isAsync,
      isManualAsync,
      preserveFutureResult,
      entryFnName,
      parentSubtaskID,
      callbackFnName,
      getCallbackFn,
      getParamsFn,
      stringEncoding,
      errHandling,
      getCalleeParamsFn,
      resultPtr,
      callingWasmExport,
    } = args;
    if (componentIdx === undefined || componentIdx === null) {
      throw new Error('missing/invalid component instance index while starting task');
    }
    let taskMetas = ASYNC_TASKS_BY_COMPONENT_IDX.get(componentIdx);
    const callbackFn = getCallbackFn ? getCallbackFn() : null;
    
    const newTask = new AsyncTask({
      componentIdx,
      isAsync,
      isManualAsync,
      preserveFutureResult,
      entryFnName,
      callbackFn,
      callbackFnName,
      stringEncoding,
      getCalleeParamsFn,
      resultPtr,
      errHandling,
      callingWasmExport,
    });
    
    const newTaskID = newTask.id();
    const newTaskMeta = { id: newTaskID, componentIdx, task: newTask };
    
    // NOTE: do not track host tasks
    ASYNC_CURRENT_TASK_IDS.push(newTaskID);
    ASYNC_CURRENT_COMPONENT_IDXS.push(componentIdx);
    
    if (!taskMetas) {
      taskMetas = [newTaskMeta];
      ASYNC_TASKS_BY_COMPONENT_IDX.set(componentIdx, [newTaskMeta]);
    } else {
      taskMetas.push(newTaskMeta);
    }
    
    return [newTask, newTaskID];
  }
  
  const CURRENT_TASK_MAY_BLOCK= globalThis.WebAssembly ? new globalThis.WebAssembly.Global({ value: 'i32', mutable: true }, 0) : false;
  
  
  function clampGuest(i, min, max) {
    if (i < min || i > max) {
      throw new TypeError(`must be between ${min} and ${max}`);
    }
    return i;
  }
  
  
  const fetchCompile = url => fetch(url).then(WebAssembly.compileStreaming);
  
  class ComponentError extends Error {
    constructor (value) {
      const enumerable = typeof value !== 'string';
      super(enumerable ? `${String(value)} (see error.payload)` : value);
      Object.defineProperty(this, 'payload', { value, enumerable });
    }
  }
  
  function throwInvalidBool() {
    throw new TypeError('invalid variant discriminant for bool');
  }
  
  
  if (!getCoreModule) getCoreModule = (name) => fetchCompile(new URL(`./${name}`, import.meta.url));
  const module0 = getCoreModule('authz.core.wasm');
  
  let gen= (function* _initGenerator () {
    let exports0;
    let memory0;
    let realloc0;
    let realloc0Async;
    let postReturn0;
    let postReturn0Async;
    let postReturn1;
    let postReturn1Async;
    let postReturn2;
    let postReturn2Async;
    let postReturn3;
    let postReturn3Async;
    let postReturn4;
    let postReturn4Async;
    let postReturn5;
    let postReturn5Async;
    let authz010CheckResources;
    
    function checkResources(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010CheckResources',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 120);
            var {requestId: v1_0, principal: v1_1, resources: v1_2, auxDataJson: v1_3, options: v1_4 } = arg0;
            
            var encodeRes = _utf8AllocateAndEncode(v1_0, realloc0, memory0);
            var ptr2= encodeRes.ptr;
            var len2 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 4, len2, true);
            dataView(memory0).setUint32(ptr0 + 0, ptr2, true);
            var {id: v3_0, roles: v3_1, attrJson: v3_2, policyVersion: v3_3, scope: v3_4 } = v1_1;
            
            var encodeRes = _utf8AllocateAndEncode(v3_0, realloc0, memory0);
            var ptr4= encodeRes.ptr;
            var len4 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 12, len4, true);
            dataView(memory0).setUint32(ptr0 + 8, ptr4, true);
            var vec6 = v3_1;
            var len6 = vec6.length;
            var result6 = realloc0(0, 0, 4, len6 * 8);
            for (let i = 0; i < vec6.length; i++) {
              const e = vec6[i];
              const base = result6 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr5= encodeRes.ptr;
              var len5 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len5, true);
              dataView(memory0).setUint32(base + 0, ptr5, true);
            }
            dataView(memory0).setUint32(ptr0 + 20, len6, true);
            dataView(memory0).setUint32(ptr0 + 16, result6, true);
            
            var encodeRes = _utf8AllocateAndEncode(v3_2, realloc0, memory0);
            var ptr7= encodeRes.ptr;
            var len7 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 28, len7, true);
            dataView(memory0).setUint32(ptr0 + 24, ptr7, true);
            
            var encodeRes = _utf8AllocateAndEncode(v3_3, realloc0, memory0);
            var ptr8= encodeRes.ptr;
            var len8 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 36, len8, true);
            dataView(memory0).setUint32(ptr0 + 32, ptr8, true);
            
            var encodeRes = _utf8AllocateAndEncode(v3_4, realloc0, memory0);
            var ptr9= encodeRes.ptr;
            var len9 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 44, len9, true);
            dataView(memory0).setUint32(ptr0 + 40, ptr9, true);
            var vec19 = v1_2;
            var len19 = vec19.length;
            var result19 = realloc0(0, 0, 4, len19 * 48);
            for (let i = 0; i < vec19.length; i++) {
              const e = vec19[i];
              const base = result19 + i * 48;var {resource: v10_0, actions: v10_1 } = e;
              var {kind: v11_0, id: v11_1, attrJson: v11_2, policyVersion: v11_3, scope: v11_4 } = v10_0;
              
              var encodeRes = _utf8AllocateAndEncode(v11_0, realloc0, memory0);
              var ptr12= encodeRes.ptr;
              var len12 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len12, true);
              dataView(memory0).setUint32(base + 0, ptr12, true);
              
              var encodeRes = _utf8AllocateAndEncode(v11_1, realloc0, memory0);
              var ptr13= encodeRes.ptr;
              var len13 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 12, len13, true);
              dataView(memory0).setUint32(base + 8, ptr13, true);
              
              var encodeRes = _utf8AllocateAndEncode(v11_2, realloc0, memory0);
              var ptr14= encodeRes.ptr;
              var len14 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 20, len14, true);
              dataView(memory0).setUint32(base + 16, ptr14, true);
              
              var encodeRes = _utf8AllocateAndEncode(v11_3, realloc0, memory0);
              var ptr15= encodeRes.ptr;
              var len15 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 28, len15, true);
              dataView(memory0).setUint32(base + 24, ptr15, true);
              
              var encodeRes = _utf8AllocateAndEncode(v11_4, realloc0, memory0);
              var ptr16= encodeRes.ptr;
              var len16 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 36, len16, true);
              dataView(memory0).setUint32(base + 32, ptr16, true);
              var vec18 = v10_1;
              var len18 = vec18.length;
              var result18 = realloc0(0, 0, 4, len18 * 8);
              for (let i = 0; i < vec18.length; i++) {
                const e = vec18[i];
                const base = result18 + i * 8;
                var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
                var ptr17= encodeRes.ptr;
                var len17 = encodeRes.len;
                
                dataView(memory0).setUint32(base + 4, len17, true);
                dataView(memory0).setUint32(base + 0, ptr17, true);
              }
              dataView(memory0).setUint32(base + 44, len18, true);
              dataView(memory0).setUint32(base + 40, result18, true);
            }
            dataView(memory0).setUint32(ptr0 + 52, len19, true);
            dataView(memory0).setUint32(ptr0 + 48, result19, true);
            var variant21 = v1_3;
            if (variant21 === null || variant21=== undefined) {
              dataView(memory0).setInt8(ptr0 + 56, 0, true);
            } else {
              const e = variant21;
              dataView(memory0).setInt8(ptr0 + 56, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr20= encodeRes.ptr;
              var len20 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 64, len20, true);
              dataView(memory0).setUint32(ptr0 + 60, ptr20, true);
            }
            var {now: v22_0, globalsJson: v22_1, defaultPolicyVersion: v22_2, defaultScope: v22_3, lenientScopes: v22_4, schemaEnforcement: v22_5, strictEvaluation: v22_6 } = v1_4;
            var variant24 = v22_0;
            if (variant24 === null || variant24=== undefined) {
              dataView(memory0).setInt8(ptr0 + 68, 0, true);
            } else {
              const e = variant24;
              dataView(memory0).setInt8(ptr0 + 68, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr23= encodeRes.ptr;
              var len23 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 76, len23, true);
              dataView(memory0).setUint32(ptr0 + 72, ptr23, true);
            }
            var variant26 = v22_1;
            if (variant26 === null || variant26=== undefined) {
              dataView(memory0).setInt8(ptr0 + 80, 0, true);
            } else {
              const e = variant26;
              dataView(memory0).setInt8(ptr0 + 80, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr25= encodeRes.ptr;
              var len25 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 88, len25, true);
              dataView(memory0).setUint32(ptr0 + 84, ptr25, true);
            }
            var variant28 = v22_2;
            if (variant28 === null || variant28=== undefined) {
              dataView(memory0).setInt8(ptr0 + 92, 0, true);
            } else {
              const e = variant28;
              dataView(memory0).setInt8(ptr0 + 92, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr27= encodeRes.ptr;
              var len27 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 100, len27, true);
              dataView(memory0).setUint32(ptr0 + 96, ptr27, true);
            }
            var variant30 = v22_3;
            if (variant30 === null || variant30=== undefined) {
              dataView(memory0).setInt8(ptr0 + 104, 0, true);
            } else {
              const e = variant30;
              dataView(memory0).setInt8(ptr0 + 104, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr29= encodeRes.ptr;
              var len29 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 112, len29, true);
              dataView(memory0).setUint32(ptr0 + 108, ptr29, true);
            }
            dataView(memory0).setInt8(ptr0 + 116, v22_4 ? 1 : 0, true);
            var val31 = v22_5;
            let enum31;
            switch (val31) {
              case 'none': {
                enum31 = 0;
                break;
              }
              case 'warn': {
                enum31 = 1;
                break;
              }
              case 'reject': {
                enum31 = 2;
                break;
              }
              default: {
                if ((v22_5) instanceof Error) {
                  console.error(v22_5);
                }
                
                throw new TypeError(`"${val31}" is not one of the cases of schema-enforcement`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 117, enum31, true);
            dataView(memory0).setInt8(ptr0 + 118, v22_6 ? 1 : 0, true);
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="check-resources"][Instruction::CallWasm] enter', {
              funcName: 'check-resources',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010CheckResources(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant68;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var ptr32 = dataView(memory0).getUint32(ret + 4, true);
                var len32 = dataView(memory0).getUint32(ret + 8, true);
                var result32 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr32, len32));
                var len56 = dataView(memory0).getUint32(ret + 16, true);
                var base56 = dataView(memory0).getUint32(ret + 12, true);
                if (base56 % 4 !== 0) throw new TypeError(`list pointer [${base56}] is not aligned to 4`);
                var result56 = [];
                for (let i = 0; i < len56; i++) {
                  const base = base56 + i * 56;
                  var ptr33 = dataView(memory0).getUint32(base + 0, true);
                  var len33 = dataView(memory0).getUint32(base + 4, true);
                  var result33 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr33, len33));
                  var ptr34 = dataView(memory0).getUint32(base + 8, true);
                  var len34 = dataView(memory0).getUint32(base + 12, true);
                  var result34 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr34, len34));
                  var len40 = dataView(memory0).getUint32(base + 20, true);
                  var base40 = dataView(memory0).getUint32(base + 16, true);
                  if (base40 % 4 !== 0) throw new TypeError(`list pointer [${base40}] is not aligned to 4`);
                  var result40 = [];
                  for (let i = 0; i < len40; i++) {
                    const base = base40 + i * 36;
                    var ptr35 = dataView(memory0).getUint32(base + 0, true);
                    var len35 = dataView(memory0).getUint32(base + 4, true);
                    var result35 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr35, len35));
                    let enum36;
                    switch (dataView(memory0).getUint8(base + 8, true)) {
                      case 0: {
                        enum36 = 'allow';
                        break;
                      }
                      case 1: {
                        enum36 = 'deny';
                        break;
                      }
                      default: {
                        throw new TypeError('invalid discriminant specified for Effect');
                      }
                    }
                    var ptr37 = dataView(memory0).getUint32(base + 12, true);
                    var len37 = dataView(memory0).getUint32(base + 16, true);
                    var result37 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr37, len37));
                    var ptr38 = dataView(memory0).getUint32(base + 20, true);
                    var len38 = dataView(memory0).getUint32(base + 24, true);
                    var result38 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr38, len38));
                    var ptr39 = dataView(memory0).getUint32(base + 28, true);
                    var len39 = dataView(memory0).getUint32(base + 32, true);
                    var result39 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr39, len39));
                    result40.push({
                      action: result35,
                      effect: enum36,
                      policy: result37,
                      scope: result38,
                      rule: result39,
                    });
                  }
                  var len42 = dataView(memory0).getUint32(base + 28, true);
                  var base42 = dataView(memory0).getUint32(base + 24, true);
                  if (base42 % 4 !== 0) throw new TypeError(`list pointer [${base42}] is not aligned to 4`);
                  var result42 = [];
                  for (let i = 0; i < len42; i++) {
                    const base = base42 + i * 8;
                    var ptr41 = dataView(memory0).getUint32(base + 0, true);
                    var len41 = dataView(memory0).getUint32(base + 4, true);
                    var result41 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr41, len41));
                    result42.push(result41);
                  }
                  var len48 = dataView(memory0).getUint32(base + 36, true);
                  var base48 = dataView(memory0).getUint32(base + 32, true);
                  if (base48 % 4 !== 0) throw new TypeError(`list pointer [${base48}] is not aligned to 4`);
                  var result48 = [];
                  for (let i = 0; i < len48; i++) {
                    const base = base48 + i * 36;
                    var ptr43 = dataView(memory0).getUint32(base + 0, true);
                    var len43 = dataView(memory0).getUint32(base + 4, true);
                    var result43 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr43, len43));
                    var ptr44 = dataView(memory0).getUint32(base + 8, true);
                    var len44 = dataView(memory0).getUint32(base + 12, true);
                    var result44 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr44, len44));
                    var ptr45 = dataView(memory0).getUint32(base + 16, true);
                    var len45 = dataView(memory0).getUint32(base + 20, true);
                    var result45 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr45, len45));
                    let variant47;
                    switch (dataView(memory0).getUint8(base + 24, true)) {
                      case 0: {
                        variant47 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr46 = dataView(memory0).getUint32(base + 28, true);
                        var len46 = dataView(memory0).getUint32(base + 32, true);
                        var result46 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr46, len46));
                        variant47 = result46;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    result48.push({
                      src: result43,
                      action: result44,
                      valueJson: result45,
                      error: variant47,
                    });
                  }
                  var len52 = dataView(memory0).getUint32(base + 44, true);
                  var base52 = dataView(memory0).getUint32(base + 40, true);
                  if (base52 % 4 !== 0) throw new TypeError(`list pointer [${base52}] is not aligned to 4`);
                  var result52 = [];
                  for (let i = 0; i < len52; i++) {
                    const base = base52 + i * 24;
                    var ptr49 = dataView(memory0).getUint32(base + 0, true);
                    var len49 = dataView(memory0).getUint32(base + 4, true);
                    var result49 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr49, len49));
                    var ptr50 = dataView(memory0).getUint32(base + 8, true);
                    var len50 = dataView(memory0).getUint32(base + 12, true);
                    var result50 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr50, len50));
                    var ptr51 = dataView(memory0).getUint32(base + 16, true);
                    var len51 = dataView(memory0).getUint32(base + 20, true);
                    var result51 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr51, len51));
                    result52.push({
                      path: result49,
                      message: result50,
                      source: result51,
                    });
                  }
                  var len55 = dataView(memory0).getUint32(base + 52, true);
                  var base55 = dataView(memory0).getUint32(base + 48, true);
                  if (base55 % 4 !== 0) throw new TypeError(`list pointer [${base55}] is not aligned to 4`);
                  var result55 = [];
                  for (let i = 0; i < len55; i++) {
                    const base = base55 + i * 16;
                    var ptr53 = dataView(memory0).getUint32(base + 0, true);
                    var len53 = dataView(memory0).getUint32(base + 4, true);
                    var result53 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr53, len53));
                    var ptr54 = dataView(memory0).getUint32(base + 8, true);
                    var len54 = dataView(memory0).getUint32(base + 12, true);
                    var result54 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr54, len54));
                    result55.push({
                      expression: result53,
                      message: result54,
                    });
                  }
                  result56.push({
                    resourceId: result33,
                    resourceKind: result34,
                    actions: result40,
                    effectiveDerivedRoles: result42,
                    outputs: result48,
                    validationErrors: result52,
                    evaluationErrors: result55,
                  });
                }
                var ptr57 = dataView(memory0).getUint32(ret + 20, true);
                var len57 = dataView(memory0).getUint32(ret + 24, true);
                var result57 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr57, len57));
                let variant59;
                switch (dataView(memory0).getUint8(ret + 28, true)) {
                  case 0: {
                    variant59 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr58 = dataView(memory0).getUint32(ret + 32, true);
                    var len58 = dataView(memory0).getUint32(ret + 36, true);
                    var result58 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr58, len58));
                    variant59 = result58;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant68= {
                  tag: 'ok',
                  val: {
                    requestId: result32,
                    results: result56,
                    bundleDigest: result57,
                    bundleLabel: variant59,
                  }
                };
                break;
              }
              case 1: {
                let variant67;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    var ptr60 = dataView(memory0).getUint32(ret + 8, true);
                    var len60 = dataView(memory0).getUint32(ret + 12, true);
                    var result60 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr60, len60));
                    let variant62;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant62 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr61 = dataView(memory0).getUint32(ret + 20, true);
                        var len61 = dataView(memory0).getUint32(ret + 24, true);
                        var result61 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr61, len61));
                        variant62 = result61;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant67= {
                      tag: 'invalid-request',
                      val: {
                        message: result60,
                        jsonPath: variant62,
                      }
                    };
                    break;
                  }
                  case 1: {
                    var ptr63 = dataView(memory0).getUint32(ret + 8, true);
                    var len63 = dataView(memory0).getUint32(ret + 12, true);
                    var result63 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr63, len63));
                    let variant65;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant65 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr64 = dataView(memory0).getUint32(ret + 20, true);
                        var len64 = dataView(memory0).getUint32(ret + 24, true);
                        var result64 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr64, len64));
                        variant65 = result64;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant67= {
                      tag: 'request-too-large',
                      val: {
                        message: result63,
                        jsonPath: variant65,
                      }
                    };
                    break;
                  }
                  case 2: {
                    var ptr66 = dataView(memory0).getUint32(ret + 8, true);
                    var len66 = dataView(memory0).getUint32(ret + 12, true);
                    var result66 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr66, len66));
                    variant67= {
                      tag: 'bundle-unavailable',
                      val: result66
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for Error');
                  }
                }
                variant68= {
                  tag: 'err',
                  val: variant67
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="check-resources"][Instruction::Return]', {
              funcName: 'check-resources',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant68;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn0(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let authz010CheckJson;
    
    function checkJson(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010CheckJson',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 60);
            
            var encodeRes = _utf8AllocateAndEncode(arg0, realloc0, memory0);
            var ptr1= encodeRes.ptr;
            var len1 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 4, len1, true);
            dataView(memory0).setUint32(ptr0 + 0, ptr1, true);
            var {now: v2_0, globalsJson: v2_1, defaultPolicyVersion: v2_2, defaultScope: v2_3, lenientScopes: v2_4, schemaEnforcement: v2_5, strictEvaluation: v2_6 } = arg1;
            var variant4 = v2_0;
            if (variant4 === null || variant4=== undefined) {
              dataView(memory0).setInt8(ptr0 + 8, 0, true);
            } else {
              const e = variant4;
              dataView(memory0).setInt8(ptr0 + 8, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr3= encodeRes.ptr;
              var len3 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 16, len3, true);
              dataView(memory0).setUint32(ptr0 + 12, ptr3, true);
            }
            var variant6 = v2_1;
            if (variant6 === null || variant6=== undefined) {
              dataView(memory0).setInt8(ptr0 + 20, 0, true);
            } else {
              const e = variant6;
              dataView(memory0).setInt8(ptr0 + 20, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr5= encodeRes.ptr;
              var len5 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 28, len5, true);
              dataView(memory0).setUint32(ptr0 + 24, ptr5, true);
            }
            var variant8 = v2_2;
            if (variant8 === null || variant8=== undefined) {
              dataView(memory0).setInt8(ptr0 + 32, 0, true);
            } else {
              const e = variant8;
              dataView(memory0).setInt8(ptr0 + 32, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr7= encodeRes.ptr;
              var len7 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 40, len7, true);
              dataView(memory0).setUint32(ptr0 + 36, ptr7, true);
            }
            var variant10 = v2_3;
            if (variant10 === null || variant10=== undefined) {
              dataView(memory0).setInt8(ptr0 + 44, 0, true);
            } else {
              const e = variant10;
              dataView(memory0).setInt8(ptr0 + 44, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr9= encodeRes.ptr;
              var len9 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 52, len9, true);
              dataView(memory0).setUint32(ptr0 + 48, ptr9, true);
            }
            dataView(memory0).setInt8(ptr0 + 56, v2_4 ? 1 : 0, true);
            var val11 = v2_5;
            let enum11;
            switch (val11) {
              case 'none': {
                enum11 = 0;
                break;
              }
              case 'warn': {
                enum11 = 1;
                break;
              }
              case 'reject': {
                enum11 = 2;
                break;
              }
              default: {
                if ((v2_5) instanceof Error) {
                  console.error(v2_5);
                }
                
                throw new TypeError(`"${val11}" is not one of the cases of schema-enforcement`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 57, enum11, true);
            dataView(memory0).setInt8(ptr0 + 58, v2_6 ? 1 : 0, true);
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="check-json"][Instruction::CallWasm] enter', {
              funcName: 'check-json',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010CheckJson(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant21;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var ptr12 = dataView(memory0).getUint32(ret + 4, true);
                var len12 = dataView(memory0).getUint32(ret + 8, true);
                var result12 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr12, len12));
                variant21= {
                  tag: 'ok',
                  val: result12
                };
                break;
              }
              case 1: {
                let variant20;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    var ptr13 = dataView(memory0).getUint32(ret + 8, true);
                    var len13 = dataView(memory0).getUint32(ret + 12, true);
                    var result13 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr13, len13));
                    let variant15;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant15 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr14 = dataView(memory0).getUint32(ret + 20, true);
                        var len14 = dataView(memory0).getUint32(ret + 24, true);
                        var result14 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr14, len14));
                        variant15 = result14;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant20= {
                      tag: 'invalid-request',
                      val: {
                        message: result13,
                        jsonPath: variant15,
                      }
                    };
                    break;
                  }
                  case 1: {
                    var ptr16 = dataView(memory0).getUint32(ret + 8, true);
                    var len16 = dataView(memory0).getUint32(ret + 12, true);
                    var result16 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr16, len16));
                    let variant18;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant18 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr17 = dataView(memory0).getUint32(ret + 20, true);
                        var len17 = dataView(memory0).getUint32(ret + 24, true);
                        var result17 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr17, len17));
                        variant18 = result17;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant20= {
                      tag: 'request-too-large',
                      val: {
                        message: result16,
                        jsonPath: variant18,
                      }
                    };
                    break;
                  }
                  case 2: {
                    var ptr19 = dataView(memory0).getUint32(ret + 8, true);
                    var len19 = dataView(memory0).getUint32(ret + 12, true);
                    var result19 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr19, len19));
                    variant20= {
                      tag: 'bundle-unavailable',
                      val: result19
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for Error');
                  }
                }
                variant21= {
                  tag: 'err',
                  val: variant20
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="check-json"][Instruction::Return]', {
              funcName: 'check-json',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant21;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn1(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let authz010BundleInfo;
    
    function bundleInfo() {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010BundleInfo',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'none',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="bundle-info"][Instruction::CallWasm] enter', {
              funcName: 'bundle-info',
              paramCount: 0,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010BundleInfo(),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            var ptr0 = dataView(memory0).getUint32(ret + 0, true);
            var len0 = dataView(memory0).getUint32(ret + 4, true);
            var result0 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr0, len0));
            let variant2;
            switch (dataView(memory0).getUint8(ret + 8, true)) {
              case 0: {
                variant2 = undefined;
                break;
              }
              case 1: {
                var ptr1 = dataView(memory0).getUint32(ret + 12, true);
                var len1 = dataView(memory0).getUint32(ret + 16, true);
                var result1 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr1, len1));
                variant2 = result1;
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for option');
              }
            }
            var ptr3 = dataView(memory0).getUint32(ret + 24, true);
            var len3 = dataView(memory0).getUint32(ret + 28, true);
            var result3 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr3, len3));
            var bool4 = dataView(memory0).getUint8(ret + 32, true);
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="bundle-info"][Instruction::Return]', {
              funcName: 'bundle-info',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            task.resolve([{
              digest: result0,
              label: variant2,
              policyCount: dataView(memory0).getInt32(ret + 20, true) >>> 0,
              engineVersion: result3,
              readsClock: bool4 == 0 ? false : (bool4 == 1 ? true : throwInvalidBool()),
            }]);
            const retCopy = {
              digest: result0,
              label: variant2,
              policyCount: dataView(memory0).getInt32(ret + 20, true) >>> 0,
              engineVersion: result3,
              readsClock: bool4 == 0 ? false : (bool4 == 1 ? true : throwInvalidBool()),
            };
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn2(ret);
            cstate.mayLeave = true;
            task.exit();
            return retCopy;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let authz010Actions;
    
    function actions(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010Actions',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            
            var encodeRes = _utf8AllocateAndEncode(arg0, realloc0, memory0);
            var ptr0= encodeRes.ptr;
            var len0 = encodeRes.len;
            
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="actions"][Instruction::CallWasm] enter', {
              funcName: 'actions',
              paramCount: 2,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010Actions(ptr0, len0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant11;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var len2 = dataView(memory0).getUint32(ret + 8, true);
                var base2 = dataView(memory0).getUint32(ret + 4, true);
                if (base2 % 4 !== 0) throw new TypeError(`list pointer [${base2}] is not aligned to 4`);
                var result2 = [];
                for (let i = 0; i < len2; i++) {
                  const base = base2 + i * 8;
                  var ptr1 = dataView(memory0).getUint32(base + 0, true);
                  var len1 = dataView(memory0).getUint32(base + 4, true);
                  var result1 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr1, len1));
                  result2.push(result1);
                }
                variant11= {
                  tag: 'ok',
                  val: result2
                };
                break;
              }
              case 1: {
                let variant10;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    var ptr3 = dataView(memory0).getUint32(ret + 8, true);
                    var len3 = dataView(memory0).getUint32(ret + 12, true);
                    var result3 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr3, len3));
                    let variant5;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant5 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr4 = dataView(memory0).getUint32(ret + 20, true);
                        var len4 = dataView(memory0).getUint32(ret + 24, true);
                        var result4 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr4, len4));
                        variant5 = result4;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant10= {
                      tag: 'invalid-request',
                      val: {
                        message: result3,
                        jsonPath: variant5,
                      }
                    };
                    break;
                  }
                  case 1: {
                    var ptr6 = dataView(memory0).getUint32(ret + 8, true);
                    var len6 = dataView(memory0).getUint32(ret + 12, true);
                    var result6 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr6, len6));
                    let variant8;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant8 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr7 = dataView(memory0).getUint32(ret + 20, true);
                        var len7 = dataView(memory0).getUint32(ret + 24, true);
                        var result7 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr7, len7));
                        variant8 = result7;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant10= {
                      tag: 'request-too-large',
                      val: {
                        message: result6,
                        jsonPath: variant8,
                      }
                    };
                    break;
                  }
                  case 2: {
                    var ptr9 = dataView(memory0).getUint32(ret + 8, true);
                    var len9 = dataView(memory0).getUint32(ret + 12, true);
                    var result9 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr9, len9));
                    variant10= {
                      tag: 'bundle-unavailable',
                      val: result9
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for Error');
                  }
                }
                variant11= {
                  tag: 'err',
                  val: variant10
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="actions"][Instruction::Return]', {
              funcName: 'actions',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant11;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn3(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let authz010PlanResources;
    
    function planResources(arg0) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010PlanResources',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 152);
            var {requestId: v1_0, principal: v1_1, resource: v1_2, actions: v1_3, auxDataJson: v1_4, options: v1_5 } = arg0;
            
            var encodeRes = _utf8AllocateAndEncode(v1_0, realloc0, memory0);
            var ptr2= encodeRes.ptr;
            var len2 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 4, len2, true);
            dataView(memory0).setUint32(ptr0 + 0, ptr2, true);
            var {id: v3_0, roles: v3_1, attrJson: v3_2, policyVersion: v3_3, scope: v3_4 } = v1_1;
            
            var encodeRes = _utf8AllocateAndEncode(v3_0, realloc0, memory0);
            var ptr4= encodeRes.ptr;
            var len4 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 12, len4, true);
            dataView(memory0).setUint32(ptr0 + 8, ptr4, true);
            var vec6 = v3_1;
            var len6 = vec6.length;
            var result6 = realloc0(0, 0, 4, len6 * 8);
            for (let i = 0; i < vec6.length; i++) {
              const e = vec6[i];
              const base = result6 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr5= encodeRes.ptr;
              var len5 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len5, true);
              dataView(memory0).setUint32(base + 0, ptr5, true);
            }
            dataView(memory0).setUint32(ptr0 + 20, len6, true);
            dataView(memory0).setUint32(ptr0 + 16, result6, true);
            
            var encodeRes = _utf8AllocateAndEncode(v3_2, realloc0, memory0);
            var ptr7= encodeRes.ptr;
            var len7 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 28, len7, true);
            dataView(memory0).setUint32(ptr0 + 24, ptr7, true);
            
            var encodeRes = _utf8AllocateAndEncode(v3_3, realloc0, memory0);
            var ptr8= encodeRes.ptr;
            var len8 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 36, len8, true);
            dataView(memory0).setUint32(ptr0 + 32, ptr8, true);
            
            var encodeRes = _utf8AllocateAndEncode(v3_4, realloc0, memory0);
            var ptr9= encodeRes.ptr;
            var len9 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 44, len9, true);
            dataView(memory0).setUint32(ptr0 + 40, ptr9, true);
            var {kind: v10_0, attrJson: v10_1, policyVersion: v10_2, scope: v10_3 } = v1_2;
            
            var encodeRes = _utf8AllocateAndEncode(v10_0, realloc0, memory0);
            var ptr11= encodeRes.ptr;
            var len11 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 52, len11, true);
            dataView(memory0).setUint32(ptr0 + 48, ptr11, true);
            
            var encodeRes = _utf8AllocateAndEncode(v10_1, realloc0, memory0);
            var ptr12= encodeRes.ptr;
            var len12 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 60, len12, true);
            dataView(memory0).setUint32(ptr0 + 56, ptr12, true);
            
            var encodeRes = _utf8AllocateAndEncode(v10_2, realloc0, memory0);
            var ptr13= encodeRes.ptr;
            var len13 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 68, len13, true);
            dataView(memory0).setUint32(ptr0 + 64, ptr13, true);
            
            var encodeRes = _utf8AllocateAndEncode(v10_3, realloc0, memory0);
            var ptr14= encodeRes.ptr;
            var len14 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 76, len14, true);
            dataView(memory0).setUint32(ptr0 + 72, ptr14, true);
            var vec16 = v1_3;
            var len16 = vec16.length;
            var result16 = realloc0(0, 0, 4, len16 * 8);
            for (let i = 0; i < vec16.length; i++) {
              const e = vec16[i];
              const base = result16 + i * 8;
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr15= encodeRes.ptr;
              var len15 = encodeRes.len;
              
              dataView(memory0).setUint32(base + 4, len15, true);
              dataView(memory0).setUint32(base + 0, ptr15, true);
            }
            dataView(memory0).setUint32(ptr0 + 84, len16, true);
            dataView(memory0).setUint32(ptr0 + 80, result16, true);
            var variant18 = v1_4;
            if (variant18 === null || variant18=== undefined) {
              dataView(memory0).setInt8(ptr0 + 88, 0, true);
            } else {
              const e = variant18;
              dataView(memory0).setInt8(ptr0 + 88, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr17= encodeRes.ptr;
              var len17 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 96, len17, true);
              dataView(memory0).setUint32(ptr0 + 92, ptr17, true);
            }
            var {now: v19_0, globalsJson: v19_1, defaultPolicyVersion: v19_2, defaultScope: v19_3, lenientScopes: v19_4, schemaEnforcement: v19_5, strictEvaluation: v19_6 } = v1_5;
            var variant21 = v19_0;
            if (variant21 === null || variant21=== undefined) {
              dataView(memory0).setInt8(ptr0 + 100, 0, true);
            } else {
              const e = variant21;
              dataView(memory0).setInt8(ptr0 + 100, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr20= encodeRes.ptr;
              var len20 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 108, len20, true);
              dataView(memory0).setUint32(ptr0 + 104, ptr20, true);
            }
            var variant23 = v19_1;
            if (variant23 === null || variant23=== undefined) {
              dataView(memory0).setInt8(ptr0 + 112, 0, true);
            } else {
              const e = variant23;
              dataView(memory0).setInt8(ptr0 + 112, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr22= encodeRes.ptr;
              var len22 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 120, len22, true);
              dataView(memory0).setUint32(ptr0 + 116, ptr22, true);
            }
            var variant25 = v19_2;
            if (variant25 === null || variant25=== undefined) {
              dataView(memory0).setInt8(ptr0 + 124, 0, true);
            } else {
              const e = variant25;
              dataView(memory0).setInt8(ptr0 + 124, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr24= encodeRes.ptr;
              var len24 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 132, len24, true);
              dataView(memory0).setUint32(ptr0 + 128, ptr24, true);
            }
            var variant27 = v19_3;
            if (variant27 === null || variant27=== undefined) {
              dataView(memory0).setInt8(ptr0 + 136, 0, true);
            } else {
              const e = variant27;
              dataView(memory0).setInt8(ptr0 + 136, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr26= encodeRes.ptr;
              var len26 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 144, len26, true);
              dataView(memory0).setUint32(ptr0 + 140, ptr26, true);
            }
            dataView(memory0).setInt8(ptr0 + 148, v19_4 ? 1 : 0, true);
            var val28 = v19_5;
            let enum28;
            switch (val28) {
              case 'none': {
                enum28 = 0;
                break;
              }
              case 'warn': {
                enum28 = 1;
                break;
              }
              case 'reject': {
                enum28 = 2;
                break;
              }
              default: {
                if ((v19_5) instanceof Error) {
                  console.error(v19_5);
                }
                
                throw new TypeError(`"${val28}" is not one of the cases of schema-enforcement`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 149, enum28, true);
            dataView(memory0).setInt8(ptr0 + 150, v19_6 ? 1 : 0, true);
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="plan-resources"][Instruction::CallWasm] enter', {
              funcName: 'plan-resources',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010PlanResources(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant57;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var ptr29 = dataView(memory0).getUint32(ret + 4, true);
                var len29 = dataView(memory0).getUint32(ret + 8, true);
                var result29 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr29, len29));
                var len31 = dataView(memory0).getUint32(ret + 16, true);
                var base31 = dataView(memory0).getUint32(ret + 12, true);
                if (base31 % 4 !== 0) throw new TypeError(`list pointer [${base31}] is not aligned to 4`);
                var result31 = [];
                for (let i = 0; i < len31; i++) {
                  const base = base31 + i * 8;
                  var ptr30 = dataView(memory0).getUint32(base + 0, true);
                  var len30 = dataView(memory0).getUint32(base + 4, true);
                  var result30 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr30, len30));
                  result31.push(result30);
                }
                var ptr32 = dataView(memory0).getUint32(ret + 20, true);
                var len32 = dataView(memory0).getUint32(ret + 24, true);
                var result32 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr32, len32));
                var ptr33 = dataView(memory0).getUint32(ret + 28, true);
                var len33 = dataView(memory0).getUint32(ret + 32, true);
                var result33 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr33, len33));
                var ptr34 = dataView(memory0).getUint32(ret + 36, true);
                var len34 = dataView(memory0).getUint32(ret + 40, true);
                var result34 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr34, len34));
                let enum35;
                switch (dataView(memory0).getUint8(ret + 44, true)) {
                  case 0: {
                    enum35 = 'always-allowed';
                    break;
                  }
                  case 1: {
                    enum35 = 'always-denied';
                    break;
                  }
                  case 2: {
                    enum35 = 'conditional';
                    break;
                  }
                  default: {
                    throw new TypeError('invalid discriminant specified for FilterKind');
                  }
                }
                let variant37;
                switch (dataView(memory0).getUint8(ret + 48, true)) {
                  case 0: {
                    variant37 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr36 = dataView(memory0).getUint32(ret + 52, true);
                    var len36 = dataView(memory0).getUint32(ret + 56, true);
                    var result36 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr36, len36));
                    variant37 = result36;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                var ptr38 = dataView(memory0).getUint32(ret + 60, true);
                var len38 = dataView(memory0).getUint32(ret + 64, true);
                var result38 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr38, len38));
                var len41 = dataView(memory0).getUint32(ret + 72, true);
                var base41 = dataView(memory0).getUint32(ret + 68, true);
                if (base41 % 4 !== 0) throw new TypeError(`list pointer [${base41}] is not aligned to 4`);
                var result41 = [];
                for (let i = 0; i < len41; i++) {
                  const base = base41 + i * 16;
                  var ptr39 = dataView(memory0).getUint32(base + 0, true);
                  var len39 = dataView(memory0).getUint32(base + 4, true);
                  var result39 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr39, len39));
                  var ptr40 = dataView(memory0).getUint32(base + 8, true);
                  var len40 = dataView(memory0).getUint32(base + 12, true);
                  var result40 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr40, len40));
                  result41.push([result39, result40]);
                }
                var len45 = dataView(memory0).getUint32(ret + 80, true);
                var base45 = dataView(memory0).getUint32(ret + 76, true);
                if (base45 % 4 !== 0) throw new TypeError(`list pointer [${base45}] is not aligned to 4`);
                var result45 = [];
                for (let i = 0; i < len45; i++) {
                  const base = base45 + i * 24;
                  var ptr42 = dataView(memory0).getUint32(base + 0, true);
                  var len42 = dataView(memory0).getUint32(base + 4, true);
                  var result42 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr42, len42));
                  var ptr43 = dataView(memory0).getUint32(base + 8, true);
                  var len43 = dataView(memory0).getUint32(base + 12, true);
                  var result43 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr43, len43));
                  var ptr44 = dataView(memory0).getUint32(base + 16, true);
                  var len44 = dataView(memory0).getUint32(base + 20, true);
                  var result44 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr44, len44));
                  result45.push({
                    path: result42,
                    message: result43,
                    source: result44,
                  });
                }
                var ptr46 = dataView(memory0).getUint32(ret + 84, true);
                var len46 = dataView(memory0).getUint32(ret + 88, true);
                var result46 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr46, len46));
                let variant48;
                switch (dataView(memory0).getUint8(ret + 92, true)) {
                  case 0: {
                    variant48 = undefined;
                    break;
                  }
                  case 1: {
                    var ptr47 = dataView(memory0).getUint32(ret + 96, true);
                    var len47 = dataView(memory0).getUint32(ret + 100, true);
                    var result47 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr47, len47));
                    variant48 = result47;
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for option');
                  }
                }
                variant57= {
                  tag: 'ok',
                  val: {
                    requestId: result29,
                    actions: result31,
                    resourceKind: result32,
                    policyVersion: result33,
                    scope: result34,
                    kind: enum35,
                    conditionJson: variant37,
                    filterDebug: result38,
                    matchedScopes: result41,
                    validationErrors: result45,
                    bundleDigest: result46,
                    bundleLabel: variant48,
                  }
                };
                break;
              }
              case 1: {
                let variant56;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    var ptr49 = dataView(memory0).getUint32(ret + 8, true);
                    var len49 = dataView(memory0).getUint32(ret + 12, true);
                    var result49 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr49, len49));
                    let variant51;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant51 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr50 = dataView(memory0).getUint32(ret + 20, true);
                        var len50 = dataView(memory0).getUint32(ret + 24, true);
                        var result50 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr50, len50));
                        variant51 = result50;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant56= {
                      tag: 'invalid-request',
                      val: {
                        message: result49,
                        jsonPath: variant51,
                      }
                    };
                    break;
                  }
                  case 1: {
                    var ptr52 = dataView(memory0).getUint32(ret + 8, true);
                    var len52 = dataView(memory0).getUint32(ret + 12, true);
                    var result52 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr52, len52));
                    let variant54;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant54 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr53 = dataView(memory0).getUint32(ret + 20, true);
                        var len53 = dataView(memory0).getUint32(ret + 24, true);
                        var result53 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr53, len53));
                        variant54 = result53;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant56= {
                      tag: 'request-too-large',
                      val: {
                        message: result52,
                        jsonPath: variant54,
                      }
                    };
                    break;
                  }
                  case 2: {
                    var ptr55 = dataView(memory0).getUint32(ret + 8, true);
                    var len55 = dataView(memory0).getUint32(ret + 12, true);
                    var result55 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr55, len55));
                    variant56= {
                      tag: 'bundle-unavailable',
                      val: result55
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for Error');
                  }
                }
                variant57= {
                  tag: 'err',
                  val: variant56
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="plan-resources"][Instruction::Return]', {
              funcName: 'plan-resources',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant57;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn4(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let authz010PlanJson;
    
    function planJson(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010PlanJson',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'throw-result-err',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 60);
            
            var encodeRes = _utf8AllocateAndEncode(arg0, realloc0, memory0);
            var ptr1= encodeRes.ptr;
            var len1 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 4, len1, true);
            dataView(memory0).setUint32(ptr0 + 0, ptr1, true);
            var {now: v2_0, globalsJson: v2_1, defaultPolicyVersion: v2_2, defaultScope: v2_3, lenientScopes: v2_4, schemaEnforcement: v2_5, strictEvaluation: v2_6 } = arg1;
            var variant4 = v2_0;
            if (variant4 === null || variant4=== undefined) {
              dataView(memory0).setInt8(ptr0 + 8, 0, true);
            } else {
              const e = variant4;
              dataView(memory0).setInt8(ptr0 + 8, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr3= encodeRes.ptr;
              var len3 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 16, len3, true);
              dataView(memory0).setUint32(ptr0 + 12, ptr3, true);
            }
            var variant6 = v2_1;
            if (variant6 === null || variant6=== undefined) {
              dataView(memory0).setInt8(ptr0 + 20, 0, true);
            } else {
              const e = variant6;
              dataView(memory0).setInt8(ptr0 + 20, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr5= encodeRes.ptr;
              var len5 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 28, len5, true);
              dataView(memory0).setUint32(ptr0 + 24, ptr5, true);
            }
            var variant8 = v2_2;
            if (variant8 === null || variant8=== undefined) {
              dataView(memory0).setInt8(ptr0 + 32, 0, true);
            } else {
              const e = variant8;
              dataView(memory0).setInt8(ptr0 + 32, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr7= encodeRes.ptr;
              var len7 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 40, len7, true);
              dataView(memory0).setUint32(ptr0 + 36, ptr7, true);
            }
            var variant10 = v2_3;
            if (variant10 === null || variant10=== undefined) {
              dataView(memory0).setInt8(ptr0 + 44, 0, true);
            } else {
              const e = variant10;
              dataView(memory0).setInt8(ptr0 + 44, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr9= encodeRes.ptr;
              var len9 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 52, len9, true);
              dataView(memory0).setUint32(ptr0 + 48, ptr9, true);
            }
            dataView(memory0).setInt8(ptr0 + 56, v2_4 ? 1 : 0, true);
            var val11 = v2_5;
            let enum11;
            switch (val11) {
              case 'none': {
                enum11 = 0;
                break;
              }
              case 'warn': {
                enum11 = 1;
                break;
              }
              case 'reject': {
                enum11 = 2;
                break;
              }
              default: {
                if ((v2_5) instanceof Error) {
                  console.error(v2_5);
                }
                
                throw new TypeError(`"${val11}" is not one of the cases of schema-enforcement`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 57, enum11, true);
            dataView(memory0).setInt8(ptr0 + 58, v2_6 ? 1 : 0, true);
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="plan-json"][Instruction::CallWasm] enter', {
              funcName: 'plan-json',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010PlanJson(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            let variant21;
            switch (dataView(memory0).getUint8(ret + 0, true)) {
              case 0: {
                var ptr12 = dataView(memory0).getUint32(ret + 4, true);
                var len12 = dataView(memory0).getUint32(ret + 8, true);
                var result12 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr12, len12));
                variant21= {
                  tag: 'ok',
                  val: result12
                };
                break;
              }
              case 1: {
                let variant20;
                switch (dataView(memory0).getUint8(ret + 4, true)) {
                  case 0: {
                    var ptr13 = dataView(memory0).getUint32(ret + 8, true);
                    var len13 = dataView(memory0).getUint32(ret + 12, true);
                    var result13 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr13, len13));
                    let variant15;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant15 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr14 = dataView(memory0).getUint32(ret + 20, true);
                        var len14 = dataView(memory0).getUint32(ret + 24, true);
                        var result14 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr14, len14));
                        variant15 = result14;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant20= {
                      tag: 'invalid-request',
                      val: {
                        message: result13,
                        jsonPath: variant15,
                      }
                    };
                    break;
                  }
                  case 1: {
                    var ptr16 = dataView(memory0).getUint32(ret + 8, true);
                    var len16 = dataView(memory0).getUint32(ret + 12, true);
                    var result16 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr16, len16));
                    let variant18;
                    switch (dataView(memory0).getUint8(ret + 16, true)) {
                      case 0: {
                        variant18 = undefined;
                        break;
                      }
                      case 1: {
                        var ptr17 = dataView(memory0).getUint32(ret + 20, true);
                        var len17 = dataView(memory0).getUint32(ret + 24, true);
                        var result17 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr17, len17));
                        variant18 = result17;
                        break;
                      }
                      default: {
                        throw new TypeError('invalid variant discriminant for option');
                      }
                    }
                    variant20= {
                      tag: 'request-too-large',
                      val: {
                        message: result16,
                        jsonPath: variant18,
                      }
                    };
                    break;
                  }
                  case 2: {
                    var ptr19 = dataView(memory0).getUint32(ret + 8, true);
                    var len19 = dataView(memory0).getUint32(ret + 12, true);
                    var result19 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr19, len19));
                    variant20= {
                      tag: 'bundle-unavailable',
                      val: result19
                    };
                    break;
                  }
                  default: {
                    throw new TypeError('invalid variant discriminant for Error');
                  }
                }
                variant21= {
                  tag: 'err',
                  val: variant20
                };
                break;
              }
              default: {
                throw new TypeError('invalid variant discriminant for expected');
              }
            }
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="plan-json"][Instruction::Return]', {
              funcName: 'plan-json',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            const retCopy = variant21;
            task.resolve([retCopy.val]);
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn1(ret);
            cstate.mayLeave = true;
            task.exit();
            
            
            
            if (typeof retCopy === 'object' && retCopy.tag === 'err') {
              throw new ComponentError(retCopy.val);
            }
            return retCopy.val;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    let authz010HandleHttp;
    
    function handleHttp(arg0, arg1) {
      
      const hostProvided = false;
      getOrCreateAsyncState(0).throwIfTrapped();
      
      const [task, _wasm_call_currentTaskID] = createNewCurrentTask({
        componentIdx: 0,
        isAsync: false,
        isManualAsync: false,
        preserveFutureResult: false,
        entryFnName: 'authz010HandleHttp',
        getCallbackFn: () => null,
        callbackFnName: null,
        errHandling: 'none',
        callingWasmExport: true,
      });
      task.setCalleeIsAsync(false);
      
      const started = task.enterSync();
      CURRENT_TASK_MAY_BLOCK.value = task.mayBlock() ? 1 : 0;
      
      if (0!== null) {
        task.setReturnMemoryIdx(0);
        task.setReturnMemory((() => memory0)());
      }
      
      
      return _withGlobalCurrentTaskMeta({
        taskID: task.id(),
        componentIdx: task.componentIdx(),
        fn: () => {
          try {
            
            var ptr0 = realloc0(0, 0, 4, 148);
            var {method: v1_0, path: v1_1, host: v1_2, contentType: v1_3, requestId: v1_4, body: v1_5 } = arg0;
            
            var encodeRes = _utf8AllocateAndEncode(v1_0, realloc0, memory0);
            var ptr2= encodeRes.ptr;
            var len2 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 4, len2, true);
            dataView(memory0).setUint32(ptr0 + 0, ptr2, true);
            
            var encodeRes = _utf8AllocateAndEncode(v1_1, realloc0, memory0);
            var ptr3= encodeRes.ptr;
            var len3 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 12, len3, true);
            dataView(memory0).setUint32(ptr0 + 8, ptr3, true);
            var variant5 = v1_2;
            if (variant5 === null || variant5=== undefined) {
              dataView(memory0).setInt8(ptr0 + 16, 0, true);
            } else {
              const e = variant5;
              dataView(memory0).setInt8(ptr0 + 16, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr4= encodeRes.ptr;
              var len4 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 24, len4, true);
              dataView(memory0).setUint32(ptr0 + 20, ptr4, true);
            }
            var variant7 = v1_3;
            if (variant7 === null || variant7=== undefined) {
              dataView(memory0).setInt8(ptr0 + 28, 0, true);
            } else {
              const e = variant7;
              dataView(memory0).setInt8(ptr0 + 28, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr6= encodeRes.ptr;
              var len6 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 36, len6, true);
              dataView(memory0).setUint32(ptr0 + 32, ptr6, true);
            }
            var variant9 = v1_4;
            if (variant9 === null || variant9=== undefined) {
              dataView(memory0).setInt8(ptr0 + 40, 0, true);
            } else {
              const e = variant9;
              dataView(memory0).setInt8(ptr0 + 40, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr8= encodeRes.ptr;
              var len8 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 48, len8, true);
              dataView(memory0).setUint32(ptr0 + 44, ptr8, true);
            }
            var val10 = v1_5;
            var len10 = Array.isArray(val10) ? val10.length : val10.byteLength;
            var ptr10 = realloc0(0, 0, 1, len10 * 1);
            
            let valData10;
            const valLenBytes10 = len10 * 1;
            if (Array.isArray(val10)) {
              // Regular array likely containing numbers, write values to memory
              let offset = 0;
              const dv10 = new DataView(memory0.buffer);
              for (const v of val10) {
                _requireValidNumericPrimitive.bind(null, 'u8')(v);
                dv10.setUint8(ptr10+ offset, v, true);
                offset += 1;
              }
            } else {
              // TypedArray / ArrayBuffer-like, direct copy
              valData10 = new Uint8Array(val10.buffer || val10, val10.byteOffset, valLenBytes10);
              const out10 = new Uint8Array(memory0.buffer, ptr10, valLenBytes10);
              out10.set(valData10);
            }
            
            dataView(memory0).setUint32(ptr0 + 56, len10, true);
            dataView(memory0).setUint32(ptr0 + 52, ptr10, true);
            var {maxResources: v11_0, maxActions: v11_1, maxBodyBytes: v11_2, allowRequestOptions: v11_3, defaults: v11_4, runtime: v11_5 } = arg1;
            var variant12 = v11_0;
            if (variant12 === null || variant12=== undefined) {
              dataView(memory0).setInt8(ptr0 + 60, 0, true);
            } else {
              const e = variant12;
              dataView(memory0).setInt8(ptr0 + 60, 1, true);
              dataView(memory0).setInt32(ptr0 + 64, toUint32(e), true);
            }
            var variant13 = v11_1;
            if (variant13 === null || variant13=== undefined) {
              dataView(memory0).setInt8(ptr0 + 68, 0, true);
            } else {
              const e = variant13;
              dataView(memory0).setInt8(ptr0 + 68, 1, true);
              dataView(memory0).setInt32(ptr0 + 72, toUint32(e), true);
            }
            var variant14 = v11_2;
            if (variant14 === null || variant14=== undefined) {
              dataView(memory0).setInt8(ptr0 + 76, 0, true);
            } else {
              const e = variant14;
              dataView(memory0).setInt8(ptr0 + 76, 1, true);
              dataView(memory0).setInt32(ptr0 + 80, toUint32(e), true);
            }
            dataView(memory0).setInt8(ptr0 + 84, v11_3 ? 1 : 0, true);
            var {now: v15_0, globalsJson: v15_1, defaultPolicyVersion: v15_2, defaultScope: v15_3, lenientScopes: v15_4, schemaEnforcement: v15_5, strictEvaluation: v15_6 } = v11_4;
            var variant17 = v15_0;
            if (variant17 === null || variant17=== undefined) {
              dataView(memory0).setInt8(ptr0 + 88, 0, true);
            } else {
              const e = variant17;
              dataView(memory0).setInt8(ptr0 + 88, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr16= encodeRes.ptr;
              var len16 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 96, len16, true);
              dataView(memory0).setUint32(ptr0 + 92, ptr16, true);
            }
            var variant19 = v15_1;
            if (variant19 === null || variant19=== undefined) {
              dataView(memory0).setInt8(ptr0 + 100, 0, true);
            } else {
              const e = variant19;
              dataView(memory0).setInt8(ptr0 + 100, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr18= encodeRes.ptr;
              var len18 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 108, len18, true);
              dataView(memory0).setUint32(ptr0 + 104, ptr18, true);
            }
            var variant21 = v15_2;
            if (variant21 === null || variant21=== undefined) {
              dataView(memory0).setInt8(ptr0 + 112, 0, true);
            } else {
              const e = variant21;
              dataView(memory0).setInt8(ptr0 + 112, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr20= encodeRes.ptr;
              var len20 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 120, len20, true);
              dataView(memory0).setUint32(ptr0 + 116, ptr20, true);
            }
            var variant23 = v15_3;
            if (variant23 === null || variant23=== undefined) {
              dataView(memory0).setInt8(ptr0 + 124, 0, true);
            } else {
              const e = variant23;
              dataView(memory0).setInt8(ptr0 + 124, 1, true);
              
              var encodeRes = _utf8AllocateAndEncode(e, realloc0, memory0);
              var ptr22= encodeRes.ptr;
              var len22 = encodeRes.len;
              
              dataView(memory0).setUint32(ptr0 + 132, len22, true);
              dataView(memory0).setUint32(ptr0 + 128, ptr22, true);
            }
            dataView(memory0).setInt8(ptr0 + 136, v15_4 ? 1 : 0, true);
            var val24 = v15_5;
            let enum24;
            switch (val24) {
              case 'none': {
                enum24 = 0;
                break;
              }
              case 'warn': {
                enum24 = 1;
                break;
              }
              case 'reject': {
                enum24 = 2;
                break;
              }
              default: {
                if ((v15_5) instanceof Error) {
                  console.error(v15_5);
                }
                
                throw new TypeError(`"${val24}" is not one of the cases of schema-enforcement`);
              }
            }
            dataView(memory0).setInt8(ptr0 + 137, enum24, true);
            dataView(memory0).setInt8(ptr0 + 138, v15_6 ? 1 : 0, true);
            
            var encodeRes = _utf8AllocateAndEncode(v11_5, realloc0, memory0);
            var ptr25= encodeRes.ptr;
            var len25 = encodeRes.len;
            
            dataView(memory0).setUint32(ptr0 + 144, len25, true);
            dataView(memory0).setUint32(ptr0 + 140, ptr25, true);
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="handle-http"][Instruction::CallWasm] enter', {
              funcName: 'handle-http',
              paramCount: 1,
              async: false,
              postReturn: true,
            });
            
            let ret;
            
            try {
              ret =  _withGlobalCurrentTaskMeta({
                taskID: task.id(),
                componentIdx: task.componentIdx(),
                fn: () => authz010HandleHttp(ptr0),
              });
            } catch (err) {
              
              _debugLog('[Instruction::CallWasm] error during sync call', {
                taskID: task.id(),
                err,
              });
              getOrCreateAsyncState(0).markTrapped(err);
              task.setErrored(err);
              task.reject(err);
              task.exit();
              throw err;
              
            }
            
            var len28 = dataView(memory0).getUint32(ret + 8, true);
            var base28 = dataView(memory0).getUint32(ret + 4, true);
            if (base28 % 4 !== 0) throw new TypeError(`list pointer [${base28}] is not aligned to 4`);
            var result28 = [];
            for (let i = 0; i < len28; i++) {
              const base = base28 + i * 16;
              var ptr26 = dataView(memory0).getUint32(base + 0, true);
              var len26 = dataView(memory0).getUint32(base + 4, true);
              var result26 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr26, len26));
              var ptr27 = dataView(memory0).getUint32(base + 8, true);
              var len27 = dataView(memory0).getUint32(base + 12, true);
              var result27 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr27, len27));
              result28.push([result26, result27]);
            }
            var ptr29 = dataView(memory0).getUint32(ret + 12, true);
            var len29 = dataView(memory0).getUint32(ret + 16, true);
            var result29 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr29, len29));
            var len31 = dataView(memory0).getUint32(ret + 24, true);
            var base31 = dataView(memory0).getUint32(ret + 20, true);
            if (base31 % 4 !== 0) throw new TypeError(`list pointer [${base31}] is not aligned to 4`);
            var result31 = [];
            for (let i = 0; i < len31; i++) {
              const base = base31 + i * 8;
              var ptr30 = dataView(memory0).getUint32(base + 0, true);
              var len30 = dataView(memory0).getUint32(base + 4, true);
              var result30 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr30, len30));
              result31.push(result30);
            }
            _debugLog('[iface="authz:pdp/authz@0.1.0", function="handle-http"][Instruction::Return]', {
              funcName: 'handle-http',
              paramCount: 1,
              async: false,
              postReturn: true
            });
            task.resolve([{
              status: clampGuest(dataView(memory0).getUint16(ret + 0, true), 0, 65535),
              headers: result28,
              body: result29,
              decisions: result31,
            }]);
            const retCopy = {
              status: clampGuest(dataView(memory0).getUint16(ret + 0, true), 0, 65535),
              headers: result28,
              body: result29,
              decisions: result31,
            };
            
            let cstate = getOrCreateAsyncState(0);
            cstate.mayLeave = false;
            postReturn5(ret);
            cstate.mayLeave = true;
            task.exit();
            return retCopy;
            
            
          } catch (err) {
            if (!task.isResolvedState()) {
              task.setErrored(err);
              task.reject(err);
            }
            if (!task.isExited()) { task.exit({ skipExclusiveLockCheck: true }); }
            throw err;
          }
        },
      });
      
    }
    ({ exports: exports0 } = yield instantiateCore(yield module0));
    memory0 = exports0.memory;
    realloc0 = exports0.cabi_realloc;
    
    try {
      realloc0Async = WebAssembly.promising(exports0.cabi_realloc);
    } catch(err) {
      realloc0Async = exports0.cabi_realloc;
    }
    
    postReturn0 = exports0['cabi_post_authz:pdp/authz@0.1.0#check-resources'];
    
    try {
      postReturn0Async = WebAssembly.promising(exports0['cabi_post_authz:pdp/authz@0.1.0#check-resources']);
    } catch(err) {
      postReturn0Async = exports0['cabi_post_authz:pdp/authz@0.1.0#check-resources'];
    }
    
    postReturn1 = exports0['cabi_post_authz:pdp/authz@0.1.0#check-json'];
    
    try {
      postReturn1Async = WebAssembly.promising(exports0['cabi_post_authz:pdp/authz@0.1.0#check-json']);
    } catch(err) {
      postReturn1Async = exports0['cabi_post_authz:pdp/authz@0.1.0#check-json'];
    }
    
    postReturn2 = exports0['cabi_post_authz:pdp/authz@0.1.0#bundle-info'];
    
    try {
      postReturn2Async = WebAssembly.promising(exports0['cabi_post_authz:pdp/authz@0.1.0#bundle-info']);
    } catch(err) {
      postReturn2Async = exports0['cabi_post_authz:pdp/authz@0.1.0#bundle-info'];
    }
    
    postReturn3 = exports0['cabi_post_authz:pdp/authz@0.1.0#actions'];
    
    try {
      postReturn3Async = WebAssembly.promising(exports0['cabi_post_authz:pdp/authz@0.1.0#actions']);
    } catch(err) {
      postReturn3Async = exports0['cabi_post_authz:pdp/authz@0.1.0#actions'];
    }
    
    postReturn4 = exports0['cabi_post_authz:pdp/authz@0.1.0#plan-resources'];
    
    try {
      postReturn4Async = WebAssembly.promising(exports0['cabi_post_authz:pdp/authz@0.1.0#plan-resources']);
    } catch(err) {
      postReturn4Async = exports0['cabi_post_authz:pdp/authz@0.1.0#plan-resources'];
    }
    
    postReturn5 = exports0['cabi_post_authz:pdp/authz@0.1.0#handle-http'];
    
    try {
      postReturn5Async = WebAssembly.promising(exports0['cabi_post_authz:pdp/authz@0.1.0#handle-http']);
    } catch(err) {
      postReturn5Async = exports0['cabi_post_authz:pdp/authz@0.1.0#handle-http'];
    }
    
    authz010CheckResources = exports0['authz:pdp/authz@0.1.0#check-resources'];
    authz010CheckJson = exports0['authz:pdp/authz@0.1.0#check-json'];
    authz010BundleInfo = exports0['authz:pdp/authz@0.1.0#bundle-info'];
    authz010Actions = exports0['authz:pdp/authz@0.1.0#actions'];
    authz010PlanResources = exports0['authz:pdp/authz@0.1.0#plan-resources'];
    authz010PlanJson = exports0['authz:pdp/authz@0.1.0#plan-json'];
    authz010HandleHttp = exports0['authz:pdp/authz@0.1.0#handle-http'];
    const authz010 = {
      actions: actions,
      bundleInfo: bundleInfo,
      checkJson: checkJson,
      checkResources: checkResources,
      handleHttp: handleHttp,
      planJson: planJson,
      planResources: planResources,
      
    };
    
    return { authz: authz010, 'authz:pdp/authz@0.1.0': authz010,  };
  })();
  let promise, resolve, reject;
  function normalizeInstantiationError(e) {
    // Native JSPI rejects a suspending import called from a
    // core start function before entering its JS wrapper.
    // At component instantiation time that always means the
    // implicit synchronous task attempted to block.
    if (typeof WebAssembly.SuspendError === 'function' && e instanceof WebAssembly.SuspendError) {
      return new WebAssembly.RuntimeError('cannot block a synchronous task before returning');
    }
    return e;
  }
  function runNext(value) {
    try {
      let done;
      do {
        ({ value, done } = gen.next(value));
      } while (!(value instanceof Promise) && !done);
      if (done) {
        if (resolve) return resolve(value);
        else return value;
      }
      if (!promise) promise = new Promise((_resolve, _reject) => (resolve = _resolve, reject= _reject));
      value.then(nextVal => done ? resolve() : runNext(nextVal), e => reject(normalizeInstantiationError(e)));
    }
    catch (e) {
      e = normalizeInstantiationError(e);
      if (reject) reject(e);
      else throw e;
    }
  }
  const maybeSyncReturn = runNext(null);
  return promise || maybeSyncReturn;
};

export const _util = {
  
}

