package dev.facekit;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;

/**
 * Owns one native pointer for an {@link Engine} or {@link Gallery}.
 *
 * <p>Calls hold the read lock for their duration ({@link #acquire}/{@link #release}); {@link #close} takes the
 * write lock, so it waits for calls running in other threads and then frees exactly once — a Java program
 * cannot free a handle under a running call or use it afterwards ({@link IllegalStateException}). The
 * {@link Cleaner} frees the pointer if the owner becomes unreachable without close(); the owners call
 * {@code Reference.reachabilityFence(this)} after each native call so the cleaner cannot run mid-call.
 */
final class NativeHandle {
    /** Live native handles of all kinds; package-private, for the leak tests. */
    static final AtomicInteger LIVE = new AtomicInteger();

    /** The cleaning action: must not reference the owner, or the owner would never become unreachable. */
    private static final class Free implements Runnable {
        private volatile long ptr;
        private final LongConsumer free;

        Free(long ptr, LongConsumer free) {
            this.ptr = ptr;
            this.free = free;
        }

        @Override
        public void run() {
            long p = ptr;
            ptr = 0;
            if (p != 0) {
                free.accept(p);
                LIVE.decrementAndGet();
            }
        }
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Free free;
    private final Cleaner.Cleanable cleanable;
    private final String kind;

    NativeHandle(Object owner, long ptr, LongConsumer freeFn, String kind) {
        if (ptr == 0) throw new FacekitException(FacekitException.FK_ERR_INTERNAL, kind + ": NULL handle");
        this.free = new Free(ptr, freeFn);
        this.kind = kind;
        LIVE.incrementAndGet();
        this.cleanable = NativeLib.CLEANER.register(owner, free);
    }

    /** The pointer, with the read lock held: pair with {@link #release()} in a finally block. */
    long acquire() {
        lock.readLock().lock();
        long p = free.ptr;
        if (p == 0) {
            lock.readLock().unlock();
            throw new IllegalStateException(kind + " is closed");
        }
        return p;
    }

    void release() {
        lock.readLock().unlock();
    }

    boolean isClosed() {
        return free.ptr == 0;
    }

    /** Frees the native object (idempotent); waits for calls in flight in other threads. */
    void close() {
        lock.writeLock().lock();
        try {
            cleanable.clean(); // runs Free at most once, whether from here or from the cleaner
        } finally {
            lock.writeLock().unlock();
        }
    }
}
