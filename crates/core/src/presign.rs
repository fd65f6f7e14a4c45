//! Presigned POST policies for browser uploads, signed with SigV4: pure, with the clock and credentials passed in.
