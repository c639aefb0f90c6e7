-- After the files of a load: the thread that parsed and validated files is done, so the full-text
-- index update and the checkpoint when the connection closes may use every core.
RESET threads;
