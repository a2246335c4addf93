//! The Rust workload of the peer benchmark (`bench/peers.ts`). The same
//! source is built with the system allocator, with the crate `mod-alloc`
//! as the global allocator (counters, or counters and backtraces), and
//! with `dhat` (dhat-rs) in heap mode; the system build also runs under
//! our LD_PRELOAD library, heaptrack and valgrind's DHAT.
//!
//! Usage: workload <threads> <steps per thread> <rounds per thread>
//! Prints one JSON line: elapsed ns of the work, peak RSS, and the
//! allocation count and bytes of the work as each profiler present saw them.

use std::collections::HashMap;
use std::time::Instant;

#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[cfg(any(feature = "modalloc", feature = "modalloc-backtraces"))]
#[global_allocator]
static ALLOC: mod_alloc::ModAlloc = mod_alloc::ModAlloc::new();

/// xorshift64*: cheap, so the loops measure the allocator.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

/// The C microbenchmark's pattern: a window of 1024 live blocks, one
/// replaced per step with a block of 16..=512 bytes.
fn window(steps: u64, seed: u64) -> u64 {
    let mut random = Random(seed);
    let mut blocks: Vec<Vec<u8>> = (0..1024).map(|_| Vec::new()).collect();
    let mut checksum = 0u64;
    for step in 0..steps {
        let r = random.next();
        let slot = (r % 1024) as usize;
        let size = 16 + ((r >> 32) % 497) as usize;
        let mut block = Vec::with_capacity(size);
        block.push(step as u8);
        checksum = checksum.wrapping_add(block[0] as u64);
        blocks[slot] = block;
    }
    checksum
}

#[derive(Debug)]
enum Value {
    Null,
    Number(f64),
    Text(String),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

fn tree(depth: u32, random: &mut Random) -> Value {
    let r = random.next();
    if depth == 0 {
        return match r % 3 {
            0 => Value::Null,
            1 => Value::Number(r as f64),
            _ => Value::Text(format!("leaf-{}", r % 1000)),
        };
    }
    if r % 2 == 0 {
        Value::List((0..4).map(|_| tree(depth - 1, random)).collect())
    } else {
        Value::Object((0..4).map(|i| (format!("key{i}"), tree(depth - 1, random))).collect())
    }
}

fn count(value: &Value) -> u64 {
    match value {
        Value::List(items) => 1 + items.iter().map(count).sum::<u64>(),
        Value::Object(fields) => 1 + fields.iter().map(|(_, v)| count(v)).sum::<u64>(),
        Value::Number(n) => 1 + (*n as u64 & 1),
        Value::Text(text) => 1 + text.len() as u64,
        Value::Null => 1,
    }
}

/// A realistic pattern: build and drop a HashMap<String, Vec<u8>> and a
/// JSON-like tree, `rounds` times.
fn realistic(rounds: u64, seed: u64) -> u64 {
    let mut random = Random(seed);
    let mut checksum = 0u64;
    for round in 0..rounds {
        let mut map: HashMap<String, Vec<u8>> = HashMap::new();
        for i in 0..200 {
            let mut bytes = Vec::new();
            bytes.extend(std::iter::repeat(i as u8).take(8 + (random.next() % 200) as usize));
            map.insert(format!("entry-{round}-{i}"), bytes);
        }
        checksum = checksum.wrapping_add(map.len() as u64);
        let value = tree(5, &mut random);
        checksum = checksum.wrapping_add(count(&value));
    }
    checksum
}

const PROFILERS: [&str; 3] = ["modAllocCrate", "dhatRs", "modAllocDeno"];

/// Counts as each profiler in this process sees them: (allocations,
/// bytes). On the stack: reading them must not allocate.
fn counts() -> [Option<(f64, f64)>; 3] {
    let mut seen = [None; 3];
    #[cfg(any(feature = "modalloc", feature = "modalloc-backtraces"))]
    {
        let stats = ALLOC.snapshot();
        seen[0] = Some((stats.alloc_count as f64, stats.total_bytes as f64));
    }
    #[cfg(feature = "dhat-heap")]
    {
        let stats = dhat::HeapStats::get();
        seen[1] = Some((stats.total_blocks as f64, stats.total_bytes as f64));
    }
    seen[2] = preloaded_counts();
    seen
}

/// Our library's all-threads counters, when it is preloaded.
fn preloaded_counts() -> Option<(f64, f64)> {
    extern "C" {
        fn dlsym(handle: *mut std::ffi::c_void, name: *const std::ffi::c_char) -> *mut std::ffi::c_void;
    }
    let symbol = unsafe { dlsym(std::ptr::null_mut(), c"mod_alloc_snapshot".as_ptr()) };
    if symbol.is_null() {
        return None;
    }
    let snapshot: extern "C" fn(u32, *mut f64) = unsafe { std::mem::transmute(symbol) };
    let mut values = [0f64; 16];
    snapshot(0, values.as_mut_ptr());
    Some((values[0], values[2])) // alloc_count, total_bytes
}

fn peak_rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|arg| arg.parse().expect("numbers")).collect();
    if args.len() != 3 || args[0] == 0 || args[0] > 64 {
        eprintln!("usage: workload <threads 1-64> <steps per thread> <rounds per thread>");
        std::process::exit(2);
    }
    let (threads, steps, rounds) = (args[0], args[1], args[2]);
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::builder().file_name(std::env::temp_dir().join("mod-alloc-peers-dhat.json")).build();
    // The counts are read while the threads are alive, waiting at a
    // barrier before and after their work: thread start and exit allocate
    // inside glibc (not through Rust's allocator), which only a
    // malloc-level profiler would see.
    // `ready` makes sure each thread has finished starting up (Rust's
    // runtime asks glibc for the thread's attributes, which allocates)
    // before the counts are read.
    let ready = std::sync::Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let start_line = std::sync::Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let finish_line = std::sync::Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let results = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(threads as usize)));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (ready, start_line, finish_line, results) =
                (ready.clone(), start_line.clone(), finish_line.clone(), results.clone());
            std::thread::spawn(move || {
                ready.wait();
                start_line.wait();
                let checksum = window(steps, 0x9E37 + t) ^ realistic(rounds, 0x5151 + t);
                results.lock().unwrap().push(checksum);
                finish_line.wait();
            })
        })
        .collect();
    ready.wait();
    let before = counts();
    let start = Instant::now();
    start_line.wait();
    finish_line.wait();
    let elapsed = start.elapsed().as_nanos();
    let after = counts();
    for worker in workers {
        worker.join().unwrap();
    }
    let checksum = results.lock().unwrap().iter().fold(0u64, |sum, c| sum.wrapping_add(*c));
    let seen: Vec<String> = PROFILERS
        .iter()
        .zip(after.iter().zip(before.iter()))
        .filter_map(|(name, pair)| match pair {
            (Some((a1, b1)), Some((a0, b0))) => Some(format!("\"{name}\":{{\"allocs\":{},\"bytes\":{}}}", a1 - a0, b1 - b0)),
            _ => None,
        })
        .collect();
    println!(
        "{{\"elapsed_ns\":{elapsed},\"max_rss_kib\":{},\"checksum\":{checksum},\"counts\":{{{}}}}}",
        peak_rss_kib(),
        seen.join(",")
    );
}
