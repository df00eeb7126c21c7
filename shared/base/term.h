/*
 * term.h — text from elsewhere made safe to print on a terminal or in a log.
 *
 * Text an API server, etcd or a file hands us may hold control sequences: ESC
 * [ 2 J clears the screen, ESC ] 0 ; … BEL retitles the window, CR and
 * backspace overwrite what was printed, and U+009B (CSI) does what ESC [ does
 * on a terminal that honours C1 controls. Anyone who can write an Event
 * message in a namespace could otherwise drive the terminal of whoever runs
 * `kubectl etcd status` there.
 *
 * The rule: valid printable UTF-8 stays as it is ("ü", "→"); everything else
 * becomes a visible escape —
 *
 *   \t \n \r   tab, newline, carriage return
 *   \x1b       any other C0 control, DEL, and each byte that is not UTF-8
 *   \u009b     a C1 control (U+0080–U+009F, encoded 0xC2 0x80–0xC2 0x9F)
 *
 * so the result holds no byte below 0x20, no DEL, no C1 and no invalid UTF-8,
 * and one line of text stays one line.
 */
#ifndef EO_TERM_H
#define EO_TERM_H

#include <stddef.h>

#include "eo.h"

/* Flags. TERM_QUOTE: also escape '"' and '\' (text going inside quotes,
 * as log_q's), so the escapes cannot be confused with the text. */
#define TERM_QUOTE 1u

/* The longest piece term_piece writes, its NUL included. */
#define TERM_PIECE_MAX 8

/*
 * The next piece of s made safe: one UTF-8 character as it is, or its escape,
 * written NUL-terminated to piece. Returns how many bytes of s the piece
 * stands for; 0 at the end of s.
 */
size_t term_piece(const char *s, unsigned flags, char piece[TERM_PIECE_MAX]);

/* text (NULL: "") made safe into buf, cut between pieces to fit size;
 * returns buf. */
const char *term_safe(char *buf, size_t size, const char *text);

/* text (NULL: "") made safe, appended to out; 0, or -1 out of memory. */
int term_safe_append(struct eo_buf *out, const char *text, unsigned flags);

/*
 * JSON text (as json-c writes it) appended to out as the same JSON with no
 * byte a terminal acts on: json-c escapes C0 controls inside strings but
 * leaves DEL, C1 controls and invalid UTF-8 raw. Those become \u007f,
 * \u0080–\u009f and \ufffd (what Go's encoder writes for invalid UTF-8);
 * whitespace between tokens stays. 0, or -1 out of memory.
 */
int term_json_append(struct eo_buf *out, const char *json);

#endif
