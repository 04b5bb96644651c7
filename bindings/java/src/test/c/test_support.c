/* Test-only JNI helper (not part of the bindings): lets FacekitTest return freed heap memory to the OS before
 * reading VmRSS, so that memory the allocator merely caches cannot hide a leak (nor fake one). */
#include <jni.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

JNIEXPORT jboolean JNICALL Java_dev_facekit_FacekitTest_mallocTrim(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
#if defined(__GLIBC__)
    malloc_trim(0); /* all arenas, including the free pages inside them */
    return JNI_TRUE;
#else
    return JNI_FALSE;
#endif
}

/* Bytes the C allocator has handed out and not got back (all arenas), or -1 where unknown. */
JNIEXPORT jlong JNICALL Java_dev_facekit_FacekitTest_mallocInUse(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (jlong)(mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}
