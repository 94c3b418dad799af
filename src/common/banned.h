/* banned.h: libc calls that invite overflows, banned at compile time (git's banned.h).
 * Included at the end of dd.h, which every drydock source file includes first, so a banned
 * call fails to compile wherever it is written after that. */
#ifndef DD_BANNED_H
#define DD_BANNED_H
#define DD_BANNED(f) sorry_##f##_is_banned
#undef strcpy
#define strcpy(a, b) DD_BANNED(strcpy)
#undef strcat
#define strcat(a, b) DD_BANNED(strcat)
#undef strncpy
#define strncpy(a, b, n) DD_BANNED(strncpy)
#undef strncat
#define strncat(a, b, n) DD_BANNED(strncat)
#undef sprintf
#define sprintf(...) DD_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) DD_BANNED(vsprintf)
#undef strtok
#define strtok(a, b) DD_BANNED(strtok)
#undef gets
#define gets(a) DD_BANNED(gets)
#endif
